// The synthetic world: subscriptions, Azure OpenAI accounts with their deployments, and the
// API Management service in front of them. Names and ids are seeded; the shapes are Azure's.
import type { Random } from './random.js';

/** Azure OpenAI started logging modelName/modelVersion/modelDeploymentName in mid-2024. */
export const MODEL_FIELDS_SINCE = Date.UTC(2024, 6, 1);

export interface Deployment {
  /** As the user named it; two of them are non-ASCII on purpose (multi-byte UTF-8). */
  name: string;
  model: string;
  /** The version before `upgradeAt`, or always when there is no upgrade. */
  version: string;
  /** An in-place version upgrade part way through the range, as a deployment set to auto-update does. */
  upgrade?: { version: string; at: number };
  embeddings: boolean;
  /** Relative share of the account's model calls. */
  weight: number;
  /** Median latency of a successful call, ms. */
  medianMs: number;
}

export interface Account {
  name: string;
  subscription: string;
  resourceGroup: string;
  location: string;
  /** Upper case, as Azure writes it in paths and in records. */
  resourceId: string;
  deployments: Deployment[];
  /** Relative traffic of the account (before normalisation). */
  volume: number;
  /** UTC hour of the daily peak. */
  peakHour: number;
  /** Share of calls that are Assistants operations (Create_Thread, ...), which never carry a model. */
  assistantsShare: number;
  /** Some accounts stamp `time` at millisecond precision (trailing zeros), others at 100 ns. */
  msPrecision: boolean;
  ipPrefix: string;
}

export interface Gateway {
  name: string;
  resourceId: string;
  location: string;
  host: string;
}

export interface World {
  accounts: Account[];
  gateway: Gateway;
}

interface AccountTemplate {
  name: string;
  group: 'PROD' | 'EVAL';
  location: string;
  volume: number;
  peakHour: number;
  assistantsShare: number;
  msPrecision: boolean;
  deployments: (at: number) => Deployment[];
}

const TEMPLATES: AccountTemplate[] = [
  {
    name: 'OAI-EASTUS-PROD',
    group: 'PROD',
    location: 'eastus',
    volume: 1.6,
    peakHour: 15,
    assistantsShare: 0.04,
    msPrecision: false,
    deployments: (at) => [
      {
        name: 'gpt4o-chat',
        model: 'gpt-4o',
        version: '2024-05-13',
        upgrade: { version: '2024-08-06', at },
        embeddings: false,
        weight: 0.45,
        medianMs: 1800,
      },
      {
        name: 'gpt4o-mini',
        model: 'gpt-4o-mini',
        version: '2024-07-18',
        embeddings: false,
        weight: 0.35,
        medianMs: 850,
      },
      {
        name: 'emb-large',
        model: 'text-embedding-3-large',
        version: '1',
        embeddings: true,
        weight: 0.2,
        medianMs: 120,
      },
    ],
  },
  {
    name: 'OAI-SWEDENCENTRAL-EVAL',
    group: 'EVAL',
    location: 'swedencentral',
    volume: 1.0,
    peakHour: 10,
    assistantsShare: 0.03,
    msPrecision: true,
    deployments: () => [
      {
        name: 'gpt-4o-2411',
        model: 'gpt-4o',
        version: '2024-11-20',
        embeddings: false,
        weight: 0.5,
        medianMs: 2000,
      },
      {
        name: 'gpt35-résumé',
        model: 'gpt-35-turbo',
        version: '0125',
        embeddings: false,
        weight: 0.5,
        medianMs: 650,
      },
    ],
  },
  {
    name: 'OAI-JAPANEAST-BATCH',
    group: 'PROD',
    location: 'japaneast',
    volume: 0.4,
    peakHour: 2,
    assistantsShare: 0,
    msPrecision: false,
    deployments: () => [
      {
        name: 'embeddings-中文',
        model: 'text-embedding-3-large',
        version: '1',
        embeddings: true,
        weight: 0.6,
        medianMs: 150,
      },
      {
        name: 'gpt35',
        model: 'gpt-35-turbo',
        version: '0125',
        embeddings: false,
        weight: 0.4,
        medianMs: 700,
      },
    ],
  },
];

/** Builds the world for `resources` accounts; `upgradeAt` is when gpt4o-chat moves to its next version. */
export function buildWorld(rnd: Random, resources: number, upgradeAt: number): World {
  const subscriptions = { PROD: rnd.guid().toUpperCase(), EVAL: rnd.guid().toUpperCase() };
  const accounts: Account[] = [];
  for (let i = 0; i < resources; i++) {
    const t = TEMPLATES[i % TEMPLATES.length] as AccountTemplate;
    const round = Math.floor(i / TEMPLATES.length);
    const name = round === 0 ? t.name : `${t.name}-${round + 1}`;
    const subscription = subscriptions[t.group];
    const resourceGroup = `RG-AI-${t.group}`;
    accounts.push({
      name,
      subscription,
      resourceGroup,
      location: t.location,
      resourceId: `/SUBSCRIPTIONS/${subscription}/RESOURCEGROUPS/${resourceGroup}/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/${name}`,
      deployments: t.deployments(upgradeAt),
      volume: t.volume * (1 + 0.25 * (rnd.next() - 0.5)),
      peakHour: (t.peakHour + 5 * round) % 24,
      assistantsShare: t.assistantsShare,
      msPrecision: t.msPrecision,
      ipPrefix: `${rnd.pick(['10', '52', '20', '172'])}.${rnd.range(0, 255)}.${rnd.range(0, 255)}.***`,
    });
  }
  const gatewayName = 'APIM-CONTOSO-AI';
  const gateway: Gateway = {
    name: gatewayName,
    resourceId: `/SUBSCRIPTIONS/${subscriptions.PROD}/RESOURCEGROUPS/RG-AI-GATEWAY/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/${gatewayName}`,
    location: 'East US',
    host: 'apim-contoso-ai.azure-api.net',
  };
  return { accounts, gateway };
}

/** The model a deployment serves at `ms`. */
export function versionAt(d: Deployment, ms: number): string {
  return d.upgrade && ms >= d.upgrade.at ? d.upgrade.version : d.version;
}
