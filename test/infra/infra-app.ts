import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { KeygateStack, type KeygateStackProps } from '../../lib/construct/keygate-stack';

/** The feature flags of cdk.json, so the tests synthesize what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(__dirname, '../../cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}

/**
 * An app that skips asset bundling (`aws:cdk:bundling-stacks: []`): esbuild
 * for eight functions would dominate the run. bundling.test.ts bundles for real.
 */
export function testApp(options: { bundle?: boolean; outdir?: string } = {}): App {
  return new App({
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
    ...(options.outdir && { outdir: options.outdir }),
  });
}

export function synthKeygateStack(props: KeygateStackProps = {}): { stack: KeygateStack; template: Template } {
  const stack = new KeygateStack(testApp(), 'KeygateTest', props);
  return { stack, template: Template.fromStack(stack) };
}

export function logicalId(construct: IConstruct): string {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).getLogicalId(element);
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of every policy attached to the role of `fn`, plus the role's managed policies. */
export function roleOf(template: Template, functionLogicalId: string): { roleId: string; statements: Statement[]; managedPolicies: unknown[] } {
  const fn = template.toJSON().Resources[functionLogicalId];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
  const role = template.toJSON().Resources[roleId];
  const statements: Statement[] = [];
  for (const resource of Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } } }[]) {
    if (resource.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }))) {
      statements.push(...resource.Properties.PolicyDocument.Statement);
    }
  }
  return { roleId, statements, managedPolicies: role.Properties.ManagedPolicyArns ?? [] };
}

export function actionsOf(statement: Statement): string[] {
  return [statement.Action].flat().sort();
}
