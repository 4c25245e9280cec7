import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { KeygateStack } from '../../lib/construct/keygate-stack';
import { synthKeygateStack, testApp } from './infra-app';

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

test('as the synthesis plugin bin/app.ts registers, the checks fail the synth on an unacknowledged finding, and only on it', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'keygate-nag-'));
  try {
    const app = testApp({ outdir });
    const fresh = new KeygateStack(app, 'KeygateNag');
    const secret = new secretsmanager.Secret(fresh, 'Unacknowledged');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow('AwsSolutions-SMG4');
    type Report = { pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[] };
    const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as Report;
    const found = report.pluginReports.flatMap((r) => r.violations.map((v) => [r.pluginName, v.ruleName, v.violatingConstructs.map((c) => c.constructPath)]));
    expect(found).toEqual([['AwsSolutions', 'AwsSolutions-SMG4', [secret.node.defaultChild!.node.path]]]);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('the acknowledged rules are exactly the reviewed ones, each with a written reason', () => {
  const acks = acknowledgements(stack);
  expect([...acks.keys()].sort()).toEqual(['AwsSolutions-APIG2', 'AwsSolutions-APIG3', 'AwsSolutions-APIG4', 'AwsSolutions-APIG6', 'AwsSolutions-COG4', 'AwsSolutions-SMG4']);
  // The unauthenticated-method finding is acknowledged on the public revoke method only.
  const unauthenticated = stack.node.findAll().filter((construct) =>
    construct.node.metadata.some((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && JSON.stringify(entry.data).includes('AwsSolutions-APIG4')),
  );
  expect(unauthenticated.map((construct) => construct.node.path)).toEqual([expect.stringMatching(/\/Api\/Default\/api\/v1\/keys\/revoke\/POST$/)]);
  for (const [id, reasons] of acks) {
    for (const reason of reasons) {
      expect([id, reason.length > 80]).toEqual([id, true]);
    }
  }
});
