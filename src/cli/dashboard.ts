import type { Command } from 'commander';
import { checkDashboardBinding, startDashboard } from '../dashboard/server.ts';
import { type GlobalOptions, port } from './options.ts';
import { runService } from './services.ts';

interface DashboardCliOptions {
  host: string;
  port: string;
  group?: string;
  metricsPort: string;
  metricsHost: string;
}

/** `dashboard`: a live page following the topics (docs/operations.md, "Dashboard"). */
export function addDashboardCommands(program: Command): void {
  const global = () => program.opts<GlobalOptions>();
  program
    .command('dashboard')
    .description(
      'live web page following the topics: drifts, model versions and the gate, accuracy per version, devices, dead letters',
    )
    .option(
      '--host <host>',
      'bind address (env DASHBOARD_HOST); beyond loopback needs ACTIVITY_API_KEY',
      process.env.DASHBOARD_HOST ?? '127.0.0.1',
    )
    .option('--port <port>', 'port (env DASHBOARD_PORT; 0: any free port)', process.env.DASHBOARD_PORT ?? '8091')
    .option('--group <id>', 'group id prefix of its broadcast subscription (default activity-tracking-dashboard)')
    .option(
      '--metrics-port <port>',
      'port of /metrics, /healthz and /readyz (0: any free port)',
      process.env.METRICS_PORT ?? '0',
    )
    .option('--metrics-host <host>', 'bind address of /metrics; beyond loopback needs ACTIVITY_API_KEY', '127.0.0.1')
    .action((o: DashboardCliOptions) => {
      const apiKey = process.env.ACTIVITY_API_KEY || undefined;
      // Checked before the transport connects: a missing key should not wait for a broker first.
      const dashboardPort = port('--port (env DASHBOARD_PORT)', o.port);
      checkDashboardBinding(o.host, apiKey);
      return runService('dashboard', global(), o, async ({ transport, logger, wiring }) => {
        const dashboard = await startDashboard({
          transport,
          host: o.host,
          port: dashboardPort,
          ...(apiKey ? { apiKey } : {}),
          ...(wiring.topics ? { topics: wiring.topics } : {}),
          ...(wiring.groupId ? { groupId: wiring.groupId } : {}),
          ...(process.env.MLFLOW_TRACKING_URI ? { state: { mlflowUri: process.env.MLFLOW_TRACKING_URI } } : {}),
          logger,
        });
        return {
          stop: () => dashboard.close(),
          details: () => ({ url: dashboard.url, clients: dashboard.clients(), records: dashboard.state.records }),
        };
      });
    });
}
