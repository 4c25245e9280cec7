import type { AppPlanDeps, PlanCatalog } from '../domain/apps';
import type { KeyStore } from '../stores/key-store';
import { apiGatewayKeys } from './gateway-keys';
import { logger } from './services';

/**
 * What the functions that put apps on plans (set-app-plan, and create-key for
 * the default plan) need: the key store (which keeps the app registry), API
 * Gateway's gateway keys, and this deployment's plans. Apart from services.ts
 * so the authorizer bundles carry none of it.
 */
export function appPlanDeps(plans: PlanCatalog, store: KeyStore): AppPlanDeps {
  return {
    store,
    gatewayKeys: apiGatewayKeys(),
    plans,
    now: () => new Date(),
    warn: (message, fields) => logger.warn(message, fields),
  };
}
