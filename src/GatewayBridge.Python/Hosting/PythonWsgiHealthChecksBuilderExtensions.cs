using GatewayBridge.Python;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Extension methods that add the Python worker processes to ASP.NET Core's health checks.
/// </summary>
public static class PythonWsgiHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check that reports a Python app with no live worker process as unhealthy (and one with fewer than
    /// <see cref="PythonOptions.Workers"/> as degraded), for a readiness probe or a load balancer.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name. The default value is <c>python-workers</c>.</param>
    /// <param name="failureStatus">The status reported for an app with no live worker; <see langword="null"/> for unhealthy.</param>
    /// <param name="tags">Tags to filter checks by, such as <c>ready</c>.</param>
    /// <returns>The health checks builder.</returns>
    public static IHealthChecksBuilder AddPythonWorkers(
        this IHealthChecksBuilder builder, string name = "python-workers", HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        return builder.AddCheck<PythonWorkersHealthCheck>(name, failureStatus, tags ?? []);
    }
}
