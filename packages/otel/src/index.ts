/**
 * @tenantry/otel — OpenTelemetry for tenantry: the `tenant` attribute on spans started inside
 * a tenant and on the active span, and the tenant carried in W3C baggage across HTTP and jobs.
 * Written against `@opentelemetry/api` only: the app brings the SDK.
 */
export {
  type Carrier,
  contextWithTenant,
  extractContext,
  fromBaggage,
  type InjectTenantOptions,
  injectTenant,
  TENANT_BAGGAGE_KEY,
  tenantFromBaggage,
  tenantOtelHook,
} from './baggage.js'
export {
  TRACE_FIELD,
  type Traced,
  type TracedJobContext,
  type TracedJobOptions,
  tracedJob,
  withTraceContext,
} from './jobs.js'
export {
  setTenantAttribute,
  TENANT_ATTRIBUTE,
  type TenantOtelOptions,
  TenantSpanProcessor,
} from './spans.js'
