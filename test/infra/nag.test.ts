import { Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { KeygateStack } from '../../lib/keygate-stack';
import { synthKeygateStack } from './infra-app';

let stack: KeygateStack;
beforeAll(() => {
  ({ stack } = synthKeygateStack());
});

/** Every acknowledgement recorded in the tree: rule id → reasons. */
function acknowledgements(root: IConstruct): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string | { reason: string }>)) {
        const ruleId = id.replace(/^annotation::/i, '');
        found.set(ruleId, [...(found.get(ruleId) ?? []), typeof reason === 'string' ? reason : reason.reason]);
      }
    }
  }
  return found;
}

test('AwsSolutions checks: no unacknowledged error or warning', () => {
  const report = new AwsSolutionsChecks().validateScope(stack);
  const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
  expect(findings).toEqual([]);
  expect(report.success).toBe(true);
});

test('the checks do run: an unacknowledged secret next to keygate is reported (SMG4), and only it', () => {
  const { stack: fresh } = synthKeygateStack();
  const secret = new secretsmanager.Secret(fresh, 'Unacknowledged');
  const report = new AwsSolutionsChecks().validateScope(fresh);
  expect(report.violations.map((v) => [v.ruleName, v.severity, v.violatingResources.map((r) => r.constructPath)])).toEqual([
    ['AwsSolutions-SMG4', 'error', [secret.node.defaultChild!.node.path]],
  ]);
});

test('the acknowledged rules are exactly the reviewed ones, each with a written reason', () => {
  const acks = acknowledgements(stack);
  expect([...acks.keys()].sort()).toEqual(['AwsSolutions-APIG3', 'AwsSolutions-APIG6', 'AwsSolutions-COG4', 'AwsSolutions-L1', 'AwsSolutions-SMG4']);
  for (const [id, reasons] of acks) {
    for (const reason of reasons) {
      expect([id, reason.length > 80]).toEqual([id, true]);
    }
  }
});
