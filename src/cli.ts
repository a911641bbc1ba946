// The `ferry` command. Each subcommand returns an exit code; bin/ferry.js sets it.
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import {
  formatProblem,
  formatWarning,
  loadConfig,
  resolveConfigDir,
  type FerryConfig,
} from './config/load-config.js';
import { runValidate } from './config/validate-command.js';
import { noopAlerter, type Alerter } from './observability/alerter.js';
import { workerErrorAlert } from './core/failure-alerts.js';
import { FerryError } from './errors.js';
import { startFerry, type Role, type RunningFerry } from './main.js';
import { createLogger } from './observability/logger.js';
import { runIamPolicy } from './commands/iam-policy-command.js';
import { proxyFromFlags, runHostKeyCommand } from './commands/host-key-command.js';
import { runTestConnection } from './commands/test-connection-command.js';
import { parseHostAddress } from './core/host-key-scan.js';
import { runSweepCommand } from './commands/sweep-command.js';
import {
  expectPositionals,
  formatUsageError,
  oneOfOption,
  parseArgsProblem,
  positiveIntegerOption,
  positiveNumberOption,
  sinceDaysOption,
  quoted,
  reasonOption,
  usageError,
  UsageError,
} from './commands/usage-error.js';
import { FERRY_VERSION } from './version.js';
import { superviseWorkers, SUPERVISED_ENV } from './commands/worker-processes.js';
import { workerProcessCount } from './core/worker-supervision.js';
import { availableParallelism } from 'node:os';

const USAGE = `ferry ${FERRY_VERSION} — deliver S3 exports to partner SFTP servers, exactly once

Usage:
  ferry validate [--config DIR]
  ferry start    [--config DIR] [--role all|scheduler|worker|web] [--insecure-admin]
                 [--processes N|auto]   with --role worker: N worker processes (auto: one per core)
  ferry sweep    <partner> [--config DIR] [--wait] [--timeout SECONDS] [--since 30d]
                                    --since: a dated prefix's partitions that far back are listed too
  ferry demo     [--files N] [--size BYTES] [--once] [--keep]   (development checkout only)
  ferry iam-policy [--config DIR]   least-privilege AWS IAM policy (JSON) for the configured partners
  ferry host-key <host[:port]> [--timeout SECONDS] [--proxy URL] [--proxy-password-env VAR]
                                    hostKeys pins for every key the server offers (confirm out of band!)
  ferry test-connection <partner> [--config DIR] [--timeout SECONDS]
                                    checks reach, host key, login, directory, write/rename/stat/delete
  ferry pause  <partner> --reason TEXT [--by USER] [--config DIR]
                                    scheduled sweeps skip the partner, queued deliveries wait
  ferry resume <partner> --reason TEXT [--by USER] [--config DIR]
  ferry deliveries [--partner P] [--status S] [--since ISO|24h] [--until ISO|1h] [--q TEXT] [--limit N] [--json]
                                    the ledger, newest first (e.g. --since 24h --status failed)
  ferry deliveries show <deliveryId|jobId> [--json] [--config DIR]
                                    one delivery in full: checksums, contract, receipt, redelivery, audit trail
  ferry redeliver <partner> <s3-key> --reason TEXT [--replace] [--etag E] [--by USER] [--config DIR]
                                    sends a delivered file again, as its own delivery with a receipt
  ferry retry <deliveryId> --reason TEXT [--by USER] [--wait] [--timeout SECONDS] [--config DIR]
                                    runs a delivery that failed for good again, after its cause is fixed;
                                    exit 0 queued (--wait: and it completed), 1 refused or failed again, 2 usage
  ferry plan [<partner>] [--config DIR]
                                    dry run: what the next sweep would deliver, and what it would skip and why
  ferry janitor <partner> [--dry-run] [--config DIR]
                                    removes Ferry's old leftover temp/.old files there (--dry-run: lists them)
  ferry version

--config defaults to $FERRY_CONFIG, then ./config. Environment overrides ferry.yaml:
REDIS_URL, S3_ENDPOINT, S3_FORCE_PATH_STYLE, AWS_REGION, FERRY_ADMIN_USER, FERRY_ADMIN_PASSWORD,
FERRY_VIEWER_USER, FERRY_VIEWER_PASSWORD, FERRY_HTTP_PORT, LOG_LEVEL.
`;

const ROLES: readonly Role[] = ['all', 'scheduler', 'worker', 'web'];

/** `--processes N|auto`: only for the worker role (the others run one process each). */
function processesOption(text: string | undefined, role: Role): number | undefined {
  if (text === undefined) return undefined;
  if (role !== 'worker') {
    throw usageError(
      'start',
      `--processes needs --role worker (got --role ${role}); run the other roles once each`,
    );
  }
  const count = workerProcessCount(text, availableParallelism());
  if (typeof count === 'string') throw usageError('start', count);
  return count;
}

/** Entry point: parses argv, runs one subcommand, returns its exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  try {
    switch (command) {
      case 'validate': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
        return await runValidate(resolveConfigDir(values.config, env), env, out);
      }
      case 'start': {
        const { values } = parseArgs({
          args: rest,
          options: {
            config: { type: 'string' },
            role: { type: 'string', default: 'all' },
            processes: { type: 'string' },
            'insecure-admin': { type: 'boolean', default: false },
          },
        });
        const role = oneOfOption('start', 'role', values.role, ROLES);
        const processes = processesOption(values.processes, role);
        const configDir = resolveConfigDir(values.config, env);
        const config = await loadOrReport(configDir, env, err);
        if (!config) return 1;
        if (processes !== undefined) {
          return await superviseWorkers({
            count: processes,
            args: ['start', '--role', 'worker', '--config', configDir],
            env,
            logger: createLogger({ level: config.service.log.level, name: 'supervisor' }),
          });
        }
        return await runStart(config, role, env, values['insecure-admin']);
      }
      case 'sweep': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            config: { type: 'string' },
            wait: { type: 'boolean', default: false },
            timeout: { type: 'string', default: '600' },
            since: { type: 'string' },
          },
        });
        const [partnerId] = expectPositionals('sweep', positionals, ['<partner>']);
        const timeoutSeconds = positiveNumberOption('sweep', 'timeout', values.timeout);
        const since = values.since === undefined ? {} : { sinceDays: sinceDaysOption('sweep', values.since) };
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        return await runSweepCommand({
          config,
          partnerId,
          wait: values.wait,
          timeoutSeconds,
          ...since,
          out,
          err,
        });
      }
      case 'iam-policy': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
        return await runIamPolicy(resolveConfigDir(values.config, env), env, out, err);
      }
      case 'host-key': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            timeout: { type: 'string', default: '10' },
            proxy: { type: 'string' },
            'proxy-password-env': { type: 'string' },
          },
        });
        const [hostText] = expectPositionals('host-key', positionals, ['<host[:port]>']);
        const address = parseHostAddress(hostText);
        if (!address) {
          throw usageError(
            'host-key',
            `<host[:port]> must be a host name or IP address with an optional port 1-65535, got ${quoted(hostText)}`,
          );
        }
        const timeoutSeconds = positiveNumberOption('host-key', 'timeout', values.timeout);
        // A bad --proxy / --proxy-password-env pair is a usage error; an unset password variable is not.
        const proxy = await proxyFromFlags(values.proxy, values['proxy-password-env'], env).catch(
          (e: unknown) => {
            if (e instanceof FerryError && e.code === 'ERR_CONFIG_INVALID') {
              throw usageError('host-key', e.message);
            }
            throw e;
          },
        );
        return await runHostKeyCommand({
          address,
          timeoutMs: timeoutSeconds * 1000,
          ...(proxy === undefined ? {} : { proxy }),
          out,
          err,
        });
      }
      case 'test-connection': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { config: { type: 'string' }, timeout: { type: 'string' } },
        });
        const [partnerId] = expectPositionals('test-connection', positionals, ['<partner>']);
        const timeoutSeconds =
          values.timeout === undefined
            ? undefined
            : positiveNumberOption('test-connection', 'timeout', values.timeout);
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        return await runTestConnection({
          config,
          partnerId,
          env,
          out,
          err,
          ...(timeoutSeconds === undefined ? {} : { timeoutMs: timeoutSeconds * 1000 }),
        });
      }
      case 'pause':
      case 'resume': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { config: { type: 'string' }, reason: { type: 'string' }, by: { type: 'string' } },
        });
        const [partnerId] = expectPositionals(command, positionals, ['<partner>']);
        const reason = reasonOption(command, values.reason);
        const by = whoAsks(command, values.by, env);
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        const { runPauseCommand } = await import('./commands/pause-command.js');
        return await runPauseCommand({
          config,
          action: command,
          partnerId,
          by,
          reason,
          out,
          err,
          audit: createLogger({ level: 'info', name: 'cli' }, process.stderr),
        });
      }
      case 'janitor': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { config: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
        });
        const [partnerId] = expectPositionals('janitor', positionals, ['<partner>']);
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        const { runJanitorCommand } = await import('./commands/janitor-command.js');
        return await runJanitorCommand({
          config,
          partnerId,
          dryRun: values['dry-run'],
          env,
          out,
          err,
          logger: createLogger({ level: 'info', name: 'cli' }, process.stderr),
        });
      }
      case 'deliveries': {
        if (rest[0] === 'show') {
          const { values, positionals } = parseArgs({
            args: rest.slice(1),
            allowPositionals: true,
            options: { config: { type: 'string' }, json: { type: 'boolean', default: false } },
          });
          const [id] = expectPositionals('deliveries show', positionals, ['<deliveryId|jobId>']);
          const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
          if (!config) return 1;
          const { runDeliveryShowCommand } = await import('./commands/deliveries-command.js');
          return await runDeliveryShowCommand({ config, id, json: values.json, out, err });
        }
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            config: { type: 'string' },
            partner: { type: 'string' },
            status: { type: 'string' },
            since: { type: 'string' },
            until: { type: 'string' },
            q: { type: 'string' },
            limit: { type: 'string', default: '50' },
            json: { type: 'boolean', default: false },
          },
        });
        expectPositionals('deliveries', positionals, []);
        const limit = positiveIntegerOption('deliveries', 'limit', values.limit, 100_000);
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        const { runDeliveriesCommand } = await import('./commands/deliveries-command.js');
        return await runDeliveriesCommand({
          config,
          ...(values.partner === undefined ? {} : { partnerId: values.partner }),
          ...(values.status === undefined ? {} : { status: values.status }),
          ...(values.since === undefined ? {} : { since: values.since }),
          ...(values.until === undefined ? {} : { until: values.until }),
          ...(values.q === undefined ? {} : { q: values.q }),
          limit,
          json: values.json,
          out,
          err,
        });
      }
      case 'redeliver': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            config: { type: 'string' },
            reason: { type: 'string' },
            etag: { type: 'string' },
            by: { type: 'string' },
            replace: { type: 'boolean', default: false },
          },
        });
        const [partnerId, key] = expectPositionals('redeliver', positionals, ['<partner>', '<s3-key>']);
        const reason = reasonOption('redeliver', values.reason);
        const by = whoAsks('redeliver', values.by, env);
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        const { runRedeliverCommand } = await import('./commands/redeliver-command.js');
        return await runRedeliverCommand({
          config,
          partnerId,
          key,
          reason,
          by,
          replace: values.replace,
          ...(values.etag === undefined ? {} : { etag: values.etag }),
          out,
          err,
          audit: createLogger({ level: 'info', name: 'cli' }, process.stderr),
        });
      }
      case 'retry': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            config: { type: 'string' },
            reason: { type: 'string' },
            by: { type: 'string' },
            wait: { type: 'boolean', default: false },
            timeout: { type: 'string', default: '300' },
          },
        });
        const [deliveryId] = expectPositionals('retry', positionals, ['<deliveryId>']);
        const reason = reasonOption('retry', values.reason);
        const by = whoAsks('retry', values.by, env);
        const timeoutSeconds = positiveNumberOption('retry', 'timeout', values.timeout);
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        const { runRetryCommand } = await import('./commands/retry-command.js');
        return await runRetryCommand({
          config,
          deliveryId,
          reason,
          by,
          wait: values.wait,
          timeoutSeconds,
          out,
          err,
          audit: createLogger({ level: 'info', name: 'cli' }, process.stderr),
        });
      }
      case 'plan': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { config: { type: 'string' } },
        });
        expectPositionals('plan', positionals, [], 1);
        const config = await loadOrReport(resolveConfigDir(values.config, env), env, err);
        if (!config) return 1;
        const { runPlanCommand } = await import('./commands/plan-command.js');
        return await runPlanCommand({
          config,
          ...(positionals[0] === undefined ? {} : { partnerId: positionals[0] }),
          out,
          err,
        });
      }
      case 'demo': {
        const { values } = parseArgs({
          args: rest,
          options: {
            files: { type: 'string', default: '6' },
            size: { type: 'string', default: '2048' },
            once: { type: 'boolean', default: false },
            keep: { type: 'boolean', default: false },
          },
        });
        const filesPerPartner = positiveIntegerOption('demo', 'files', values.files, 10_000);
        const fileSize = positiveIntegerOption('demo', 'size', values.size, 100_000_000);
        const { runDemo } = await import('./demo/run-demo.js');
        return await runDemo({
          filesPerPartner,
          fileSize,
          once: values.once,
          keep: values.keep,
          out,
          err,
          env,
        });
      }
      case 'version':
      case '--version':
        out(FERRY_VERSION);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        err(`ferry: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(formatUsageError(e, USAGE));
      return 2;
    }
    if (e instanceof FerryError) {
      err(`ferry ${command}: ${e.code}: ${e.message}`);
      return 1;
    }
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      // node:util's message names the option ("Unknown option '--x'", "Option '--limit <value>' argument missing").
      const sub = command === 'deliveries' && rest[0] === 'show' ? 'deliveries show' : (command ?? '');
      err(formatUsageError(usageError(sub, parseArgsProblem(e.message)), USAGE));
      return 2;
    }
    throw e;
  }
}

/**
 * Who asks (audit trails of pause, resume, redeliver, retry): `--by`, else $USER, else the OS account
 * name ($USER is unset under cron, in containers and in `docker compose exec`); a usage error when unknown.
 */
function whoAsks(command: string, by: string | undefined, env: NodeJS.ProcessEnv): string {
  if (by !== undefined) {
    if (by.trim() === '') throw usageError(command, '--by must name who asks, got ""');
    return by.trim();
  }
  if (env.USER?.trim()) return env.USER.trim();
  let name = '';
  try {
    name = userInfo().username;
  } catch {
    // no account name (a uid without a passwd entry, as in some containers): the error below says what to do
  }
  if (name === '') {
    throw usageError(
      command,
      'cannot tell who asks ($USER is unset and the OS has no name for this user): pass --by USER',
    );
  }
  return name;
}

async function loadOrReport(
  dir: string,
  env: NodeJS.ProcessEnv,
  err: (line: string) => void,
): Promise<FerryConfig | undefined> {
  const result = await loadConfig(dir, env);
  for (const w of result.warnings ?? []) err(formatWarning(w));
  if (result.ok) return result.config;
  for (const p of result.problems) err(formatProblem(p));
  return undefined;
}

async function runStart(config: FerryConfig, role: Role, env: NodeJS.ProcessEnv, insecureAdmin: boolean) {
  const logger = createLogger({ level: config.service.log.level, name: role });
  let alerts: Alerter = noopAlerter; // until startFerry has built the alerter
  process.on('unhandledRejection', (reason) => {
    logger.error(
      { err: reason instanceof Error ? reason.message : String(reason), alert: true },
      'unhandled rejection',
    );
    alerts.notify(workerErrorAlert(reason, `unhandled rejection in the ${role} process`));
  });
  // Listen for signals before starting anything: a signal during startup (even while it waits for
  // Redis) stops it too.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    // Under `--processes`: a supervisor that went away (even killed) stops its workers, gracefully.
    if (env[SUPERVISED_ENV] === '1' && process.connected) {
      process.once('disconnect', () => resolve('SIGTERM'));
      process.channel?.unref();
    }
  });
  const starting = new AbortController();
  void stopped.then((signal) => starting.abort(new StartAbandoned(signal)));
  let running: RunningFerry;
  try {
    running = await startFerry({ config, role, env, logger, insecureAdmin, signal: starting.signal });
  } catch (err) {
    if (!(err instanceof StartAbandoned)) throw err;
    logger.info(
      { signal: err.signal },
      'stopped before Redis answered: nothing was started, nothing is in flight',
    );
    return 0;
  }
  alerts = running.alerts;
  logger.info({ role, partners: [...config.partners.keys()], version: FERRY_VERSION }, 'ferry started');
  const signal = await stopped;
  const force = (again: NodeJS.Signals) => {
    logger.warn(
      { signal: again },
      'stopping at once: in-flight deliveries will be retried by another worker',
    );
    process.exit(1);
  };
  // Listening again before saying so: a second signal sent on seeing the line must find the handler
  // (between the first signal's listener and this one, the signal has its default action: exit).
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  logger.info({ signal }, 'shutting down: finishing in-flight deliveries (signal again to stop at once)');
  const { abandoned } = await running.close();
  if (abandoned.length > 0) {
    logger.warn(
      { errCode: 'ERR_REDIS_UNAVAILABLE', abandoned },
      `stopped without waiting for ${abandoned.length} in-flight deliveries: Redis is unreachable, so none could record its outcome; each resumes from its ledger record when a worker takes its job over`,
    );
    return 1;
  }
  logger.info('ferry stopped');
  return 0;
}

/** A start given up because a stop signal came first (while waiting for Redis). */
class StartAbandoned extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal} before Redis answered`);
  }
}
