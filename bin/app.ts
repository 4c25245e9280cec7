#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KeygateStack } from '../lib/construct/keygate-stack';

const app = new App();

new KeygateStack(app, 'Keygate', {
  description: 'keygate: API-key authentication for an API Gateway REST API',
  // Environment-agnostic (no env): the same template for every account and region, and `cdk synth` needs no credentials.
});

// The same AwsSolutions checks the infra tests run: synth fails on an unacknowledged finding.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
