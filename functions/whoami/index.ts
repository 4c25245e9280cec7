import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { authorizerContext, jsonResponse } from '../lambda/http';

/** `GET .../whoami`: who the API key says the caller is. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const { appUid, keyId, role } = authorizerContext(event, ['appUid', 'keyId', 'role']);
  return jsonResponse(200, { appUid, keyId, role });
};
