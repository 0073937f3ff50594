import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import type { TiercelConfig } from '../config/config';
import { TIERCEL_CONFIG } from '../config/config.module';
import type { CaMaterial, LeafCertificates } from './certificate-authority';

/** The interception CA (null unless INTERCEPT is on in forward mode). */
export const INTERCEPTION_CA = Symbol('INTERCEPTION_CA');
/** The leaf certificates interception signs (null unless INTERCEPT is on in forward mode). */
export const LEAF_CERTIFICATES = Symbol('LEAF_CERTIFICATES');

/**
 * Interception's certificates: the CA, loaded or generated before the data port opens, and the
 * leaf cache. The X.509 code is loaded only when interception is on (it adds about 0.1 s to a
 * start, measured, that nobody else should pay).
 */
@Module({
  providers: [
    {
      provide: INTERCEPTION_CA,
      inject: [TIERCEL_CONFIG, LOGGER],
      useFactory: async (c: TiercelConfig, log: Logger): Promise<CaMaterial | null> =>
        c.tls.intercept && c.proxy.upstream === null ? (await import('./certificate-authority')).loadCa(c.tls, c.cache.name, log) : null,
    },
    {
      provide: LEAF_CERTIFICATES,
      inject: [TIERCEL_CONFIG, INTERCEPTION_CA],
      useFactory: async (c: TiercelConfig, ca: CaMaterial | null): Promise<LeafCertificates | null> =>
        ca === null ? null : new (await import('./certificate-authority')).LeafCertificates(ca, c.tls.leafCacheSize),
    },
  ],
  exports: [INTERCEPTION_CA, LEAF_CERTIFICATES],
})
export class TlsModule {}
