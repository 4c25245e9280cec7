/**
 * One HTTP request to the local stack; `json` is the parsed body when it is
 * JSON, `requestId` the gateway's `x-amzn-RequestId`. A string body is sent as is.
 */
export async function call(method: string, target: string, headers: Record<string, string> = {}, body?: unknown) {
  const response = await fetch(target, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, requestId: response.headers.get('x-amzn-requestid') };
}
