import { KNOWN_VARIABLES } from '../config/config';

const DURATION = { description: 'a duration such as 30s, 5m, 1h, 1d (a bare number is seconds)', anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h|d)?$' }] };
const SIZE = { description: 'a size such as 1048576, 512k, 10m', anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$' }] };
const TOKEN = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description: 'a field or cookie name (an RFC 9110 token)' };
const HOST = { type: 'string', pattern: '^(\\*\\.)?[A-Za-z0-9.-]+(:\\d{1,5})?$', description: 'a host name such as www.example.com, or *.example.com' };
const NAMES = { type: 'array', items: TOKEN, maxItems: 32 };

/**
 * The policy file's JSON Schema (draft 2020-12), checked by Ajv. Top-level settings are the
 * environment variables' names in lower case (cache_max_age: 10m); the environment overrides them.
 */
export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hosts: { type: 'array', items: HOST, maxItems: 10_000, description: 'the hosts served in reverse mode; others get 421' },
    rules: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$', description: 'a name of letters, digits and _.:- (at most 64)' },
          match: {
            type: 'object',
            additionalProperties: false,
            properties: {
              host: HOST,
              path: { type: 'string', pattern: '^[/*]', maxLength: 2048, description: 'a path glob starting with / or *, where * is any run of characters' },
              method: { anyOf: [{ type: 'string', pattern: '^[A-Z]+$' }, { type: 'array', items: { type: 'string', pattern: '^[A-Z]+$' }, minItems: 1 }], description: 'a method such as GET, or a list of them' },
              header: {
                type: 'object',
                additionalProperties: false,
                required: ['name'],
                properties: { name: TOKEN, value: { type: 'string', maxLength: 1024, description: 'a glob over the value' } },
              },
            },
          },
          ttl: DURATION,
          override: { type: 'boolean' },
          status_ttl: {
            type: 'object',
            propertyNames: { pattern: '^[1-5]\\d\\d$', description: 'a status code such as 404' },
            additionalProperties: DURATION,
          },
          grace: DURATION,
          pass: { type: 'boolean' },
          key: {
            type: 'object',
            additionalProperties: false,
            properties: {
              query: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  ignore: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 64, description: 'parameter names or globs such as utm_*' },
                  sort: { type: 'boolean' },
                  drop: { type: 'boolean' },
                },
              },
              headers: NAMES,
              cookies: NAMES,
            },
          },
          strip_cookies: { type: 'boolean' },
          strip_set_cookie: { type: 'boolean' },
          max_object_size: SIZE,
        },
      },
    },
    ...Object.fromEntries(KNOWN_VARIABLES.filter((v) => v !== 'TIERCEL_CONFIG').map((v) => [v.toLowerCase(), { type: ['string', 'number', 'boolean'], description: `the ${v} setting (the environment variable wins)` }])),
  },
} as const;
