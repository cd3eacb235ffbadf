/**
 * Realistic incident payloads with planted canary secrets, for the detector and sealing tests.
 * Every canary is a distinctive string: if it shows up in a redacted payload or an encoding, it
 * leaked. The fixtures are written for these tests (shapes follow `kubectl get -o json`,
 * Alertmanager's webhook and the Docker config format).
 */

export const CANARY = {
  secretData: 'Q0FOQVJZLWs4cy1kYXRhLXBhc3N3b3Jk', // base64 of CANARY-k8s-data-password
  stringData: 'CANARY-k8s-stringdata-7f3a',
  dockerAuth: 'Q0FOQVJZOmRvY2tlci1hdXRoLTkxYw==',
  envValue: 'CANARY-env-db-password-c0ffee',
  argToken: 'CANARY-argtoken-5150',
  shellApiKey: 'CANARY-shell-apikey-4242',
  pem: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7CANARYPEM',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJDQU5BUlktand0In0.c2lnbmF0dXJlQ0FOQVJZ',
  github: 'ghp_CANARYgithubTokenAbCdEfGhIjKlMnOpQrSt12',
  githubPat: 'github_pat_11CANARY0fine0grained0token0Xy',
  awsId: 'AKIACANARY1234567890',
  awsSecret: 'CANARYwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMP',
  slack: 'xoxb-123456789012-CANARY-slackbot-token',
  slackHook: 'https://hooks.slack.com/services/T00000000/B00000000/CANARYhookXXXXXXXXXXXX',
  bearer: 'CANARYopaqueBearerToken0123456789',
  basic: 'Q0FOQVJZOmJhc2ljLWF1dGg=',
  dbUrlPassword: 'CANARY-dburl-pass',
  passwordField: 'CANARY-password-field-hunter2',
  clientSecret: 'CANARY-client-secret-oauth',
  logPassword: 'CANARY-logline-pw',
  policyField: 'CANARY-patient-name-Jane',
} as const;

/** A Kubernetes Secret as `kubectl get secret -o json` prints it. */
export const k8sSecret = {
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'Opaque',
  metadata: {
    name: 'payments-db-credentials',
    namespace: 'payments',
    uid: '6a1f1d3e-9a4b-4b8e-8f0e-2c3d4e5f6a7b',
    resourceVersion: '918273',
    creationTimestamp: '2026-11-20T08:14:03Z',
    labels: { 'app.kubernetes.io/name': 'payments', 'app.kubernetes.io/part-of': 'checkout' },
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'payments-db-credentials', namespace: 'payments' },
        stringData: { password: CANARY.stringData },
      }),
    },
  },
  data: { username: 'cGF5bWVudHM=', password: CANARY.secretData },
  stringData: { 'api-key': CANARY.stringData },
};

export const dockerConfigSecret = {
  apiVersion: 'v1',
  kind: 'Secret',
  type: 'kubernetes.io/dockerconfigjson',
  metadata: { name: 'regcred', namespace: 'payments' },
  data: { '.dockerconfigjson': CANARY.dockerAuth },
};

/** A Deployment whose pod template carries env values, a token flag and a shell command. */
export const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'payments-api', namespace: 'payments', generation: 14 },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'payments-api' } },
    template: {
      metadata: { labels: { app: 'payments-api' } },
      spec: {
        serviceAccountName: 'payments-api',
        imagePullSecrets: [{ name: 'regcred' }],
        containers: [
          {
            name: 'api',
            image:
              'ghcr.io/acme/payments-api:1.14.2@sha256:9b2c4f0e1d7a6b5c3e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d',
            args: ['--listen=:8080', '--log-level=info', `--token=${CANARY.argToken}`],
            command: ['sh', '-c', `export API_KEY=${CANARY.shellApiKey} && exec /app/server`],
            env: [
              { name: 'DB_PASSWORD', value: CANARY.envValue },
              { name: 'DB_HOST', value: 'payments-db.payments.svc.cluster.local' },
              {
                name: 'STRIPE_KEY',
                valueFrom: { secretKeyRef: { name: 'stripe', key: 'api-key' } },
              },
            ],
            volumeMounts: [{ name: 'tls', mountPath: '/etc/tls', readOnly: true }],
          },
        ],
        volumes: [{ name: 'tls', secret: { secretName: 'payments-tls' } }],
      },
    },
  },
};

/** An Alertmanager webhook whose annotations quote log lines. */
export const alertmanagerWebhook = {
  version: '4',
  groupKey: '{}:{alertname="CrashLoopBackOff"}',
  status: 'firing',
  receiver: 'aaps',
  groupLabels: { alertname: 'CrashLoopBackOff' },
  commonLabels: { namespace: 'payments', severity: 'critical' },
  externalURL: 'http://alertmanager.monitoring:9093',
  alerts: [
    {
      status: 'firing',
      labels: {
        alertname: 'CrashLoopBackOff',
        namespace: 'payments',
        pod: 'payments-api-7d9f8b6c5-x2x9q',
        container: 'api',
      },
      annotations: {
        summary: 'payments-api is crash looping',
        description: `upstream call failed: GET /v1/charges Authorization: Bearer ${CANARY.bearer} -> 401`,
        runbook_url: 'https://runbooks.acme.example/payments/crashloop',
        last_log: `FATAL cannot connect to postgres://payments:${CANARY.dbUrlPassword}@payments-db:5432/payments`,
      },
      startsAt: '2026-11-25T14:02:11.123Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL:
        'http://prometheus.monitoring:9090/graph?g0.expr=kube_pod_container_status_restarts_total',
      fingerprint: 'c6b1d2a3e4f50617',
    },
  ],
};

/** Log lines and config fragments an IncidentSignal may quote. */
export const logExcerpt = {
  source: 'loki',
  query: '{namespace="payments"} |= "error"',
  lines: [
    '2026-11-25T14:01:59Z INFO starting payments-api version=1.14.2 commit=3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f',
    `2026-11-25T14:02:00Z DEBUG loaded config password=${CANARY.logPassword} pool=20`,
    `2026-11-25T14:02:01Z WARN github sync with token ${CANARY.github}`,
    `2026-11-25T14:02:02Z WARN fine-grained ${CANARY.githubPat} rejected`,
    `2026-11-25T14:02:03Z ERROR aws: AccessKeyId=${CANARY.awsId} denied`,
    `2026-11-25T14:02:04Z ERROR slack notify failed token=${CANARY.slack}`,
    `2026-11-25T14:02:05Z ERROR webhook ${CANARY.slackHook} returned 404`,
    `2026-11-25T14:02:06Z ERROR session ${CANARY.jwt} expired`,
    `2026-11-25T14:02:07Z ERROR proxy sent Authorization: Basic ${CANARY.basic}`,
    '2026-11-25T14:02:08Z INFO retrying in 5s attempt=3 backoff=exponential',
  ],
  key_file: `-----BEGIN PRIVATE KEY-----\n${CANARY.pem}\n-----END PRIVATE KEY-----\n`,
  ca_bundle:
    '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVPbmx5UHVibGlj\n-----END CERTIFICATE-----\n',
  aws: { aws_access_key_id: CANARY.awsId, aws_secret_access_key: CANARY.awsSecret, region: 'eu-west-1' },
  oauth: {
    client_id: 'payments-api',
    clientSecret: CANARY.clientSecret,
    tokenUrl: 'https://login.acme.example/oauth2/token',
    tokenExpirationSeconds: 3600,
  },
  db: {
    host: 'payments-db',
    port: 5432,
    user: 'payments',
    password: CANARY.passwordField,
    passwordSecretName: 'db',
  },
  patient: { name: CANARY.policyField, ward: 'B3' },
};

/** Strings that look like nothing sensitive and must stay in the clear. */
export const ORDINARY_VALUES = [
  'payments-api',
  'payments',
  'kube-system',
  'ghcr.io/acme/payments-api:1.14.2',
  'ghcr.io/acme/token-service:2.0.1',
  'registry.acme.example:5000/vault-token:1.2',
  'docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31',
  'sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31',
  '3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f',
  '6a1f1d3e-9a4b-4b8e-8f0e-2c3d4e5f6a7b',
  '2026-11-25T14:02:11.123Z',
  '14:02:11',
  'https://runbooks.acme.example/payments/crashloop',
  'http://prometheus.monitoring:9090/graph?g0.expr=up',
  'ImagePullBackOff: failed to pull image "ghcr.io/acme/payments-api:1.14.3": not found',
  'Back-off restarting failed container api in pod payments-api-7d9f8b6c5-x2x9q',
  'exceeded quota: compute-resources, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi',
  'secret "payments-db-credentials" not found',
  'User "system:serviceaccount:payments:payments-api" cannot get resource "secrets" in API group "" in the namespace "payments"',
  'token-refresher',
  'password-reset-service',
  'log-level=info',
  '--listen=:8080',
] as const;
