import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { KeygateAuth } from '../../lib/construct/keygate-auth';
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

test('the acknowledged rules are exactly the reviewed ones, each with a written reason; APIG3 (WAF) is met, not acknowledged', () => {
  const acks = acknowledgements(stack);
  // IAM5 only for the wildcards of gateway-key management (ids unknown until runtime), each named.
  const wildcards = [...acks.keys()].filter((id) => id.startsWith('AwsSolutions-IAM5['));
  expect(wildcards.length).toBeGreaterThan(0);
  for (const id of wildcards) expect(id).toMatch(/^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:apigateway:<AWS::Region>::\/(apikeys|usageplans\/<[A-Za-z0-9]+>\/keys)\/\*\]$/);
  expect([...acks.keys()].filter((id) => !wildcards.includes(id)).sort()).toEqual(['AwsSolutions-APIG2', 'AwsSolutions-APIG4', 'AwsSolutions-APIG6', 'AwsSolutions-COG4', 'AwsSolutions-SMG4']);
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

test('with the web ACL turned off (auth.perIpRateLimit: 0), APIG3 is acknowledged with its reason and nothing else changes', () => {
  const { stack: off } = synthKeygateStack({ auth: { perIpRateLimit: 0 } });
  const report = new AwsSolutionsChecks().validateScope(off);
  expect(report.violations).toEqual([]);
  const acks = acknowledgements(off);
  // The same as with WAF on (the gateway-key wildcards of plans included), plus APIG3.
  const notWildcards = [...acks.keys()].filter((id) => !id.startsWith('AwsSolutions-IAM5['));
  expect(notWildcards.sort()).toEqual(['AwsSolutions-APIG2', 'AwsSolutions-APIG3', 'AwsSolutions-APIG4', 'AwsSolutions-APIG6', 'AwsSolutions-COG4', 'AwsSolutions-SMG4']);
  expect(acks.get('AwsSolutions-APIG3')![0]).toMatch(/perIpRateLimit: 0/);
});

test('APIG3 is met by the web ACL itself: a stage without one is a finding, the same stage with associateWebAcl is not', () => {
  const apig3 = (associate: boolean) => {
    const app = testApp();
    const user = new Stack(app, 'UserStack');
    const auth = new KeygateAuth(user, 'Auth', { perIpRateLimit: 1000 });
    // As the README tells users to: the revoke route's method throttling on the same stage the web ACL attaches to.
    const api = new apigateway.RestApi(user, 'Api', { cloudWatchRole: false, deployOptions: { methodOptions: auth.stageMethodOptions() } });
    auth.addRoutes(api);
    if (associate) auth.associateWebAcl(api.deploymentStage);
    return new AwsSolutionsChecks().validateScope(user).violations.filter((v) => v.ruleName === 'AwsSolutions-APIG3').length;
  };
  expect(apig3(false)).toBe(1);
  expect(apig3(true)).toBe(0);
});
