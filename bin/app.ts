#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KeygateStack } from '../lib/construct/keygate-stack';
import { parseCorsOrigins } from '../lib/shared/cors';

const app = new App();

// `-c keygate:corsAllowedOrigins=https://app.example.com,...`: browser pages allowed on the session routes.
const corsContext: unknown = app.node.tryGetContext('keygate:corsAllowedOrigins');
const corsAllowedOrigins = Array.isArray(corsContext) ? corsContext.map(String) : parseCorsOrigins(corsContext === undefined ? undefined : String(corsContext));

new KeygateStack(app, 'Keygate', {
  description: 'keygate: API-key authentication for an API Gateway REST API',
  auth: { corsAllowedOrigins },
  // Environment-agnostic (no env): the same template for every account and region, and `cdk synth` needs no credentials.
});

// The same AwsSolutions checks the infra tests run: synth fails on an unacknowledged finding.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
