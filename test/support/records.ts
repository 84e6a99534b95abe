// One Azure OpenAI RequestResponse record as a JSON line, with any field replaced: for tests that
// build their own blobs.
export function azureRecord(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    time: '2025-06-09T14:17:42.1230000Z',
    resourceId: '/SUBSCRIPTIONS/1/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OAI',
    category: 'RequestResponse',
    operationName: 'ChatCompletions_Create',
    resultSignature: '200',
    durationMs: 12,
    properties: { modelName: 'gpt-4o', modelVersion: '2024-11-20', modelDeploymentName: 'chat' },
    ...fields,
  });
}
