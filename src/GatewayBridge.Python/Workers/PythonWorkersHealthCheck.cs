using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GatewayBridge.Python;

/// <summary>
/// Unhealthy while a mounted app has no live worker process (every request to it would wait or fail), degraded
/// while it has fewer than <c>Workers</c>, healthy otherwise; healthy, with nothing to report, in the host's
/// interpreter.
/// </summary>
internal sealed class PythonWorkersHealthCheck(PythonWorkers workers) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var worst = HealthStatus.Healthy;
        var problems = new List<string>();
        foreach (var app in workers.Supervisors)
        {
            var live = app.LiveWorkers;
            data[app.AppSpec] = $"{live} of {app.Size} workers live";
            if (live == 0)
            {
                worst = HealthStatus.Unhealthy;
                problems.Add($"{app.AppSpec} has no live worker");
            }
            else if (live < app.Size)
            {
                worst = worst == HealthStatus.Unhealthy ? worst : HealthStatus.Degraded;
                problems.Add($"{app.AppSpec} has {live} of {app.Size} workers");
            }
        }

        var description = problems.Count == 0 ? "Every Python app has its workers." : string.Join("; ", problems) + ".";
        var status = worst == HealthStatus.Healthy ? HealthStatus.Healthy : worst == HealthStatus.Degraded ? HealthStatus.Degraded : context.Registration.FailureStatus;
        return Task.FromResult(new HealthCheckResult(status, description, data: data));
    }
}
