import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { authorizerContext, errorResponse, jsonResponse } from '../lambda/http';

/** `GET .../whoami`: who the API key says the caller is. */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    const { appUid, keyId, role } = authorizerContext(event, ['appUid', 'keyId', 'role']);
    return jsonResponse(200, { appUid, keyId, role });
  } catch (error) {
    return errorResponse(error);
  }
};
