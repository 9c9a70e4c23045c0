using System.Diagnostics.CodeAnalysis;
using GatewayBridge.Python;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps a live view of the host's Python apps and workers, as uWSGI's stats server and Apache's mod_status give one.</summary>
public static class PythonStatusEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps, at <paramref name="pattern"/>, each Python app's interface and mode, its workers (pid, state, since when,
    /// requests served, in flight, the request each runs with its path and seconds, its own memory: USS, PSS, RSS), its
    /// restarts by reason and its queue: JSON, or a plain HTML table for a browser (an <c>Accept</c> with
    /// <c>text/html</c>). It never shows a request's body, headers or query string. Opt-in, and an endpoint, so
    /// <c>RequireAuthorization()</c> and the like apply.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">Where, such as <c>/_status</c>.</param>
    /// <returns>A builder for conventions such as <c>RequireAuthorization()</c>.</returns>
    public static IEndpointConventionBuilder MapPythonStatus(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        return endpoints.MapGet(pattern, static (HttpContext context) =>
        {
            var workers = context.RequestServices.GetRequiredService<PythonWorkers>();
            var embedded = context.RequestServices.GetRequiredService<EmbeddedPythonHost>();
            context.Response.Headers.CacheControl = "no-store";
            var wantsHtml = context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));
            return wantsHtml
                ? Results.Text(PythonStatusReport.Html(workers, embedded), "text/html; charset=utf-8")
                : Results.Bytes(PythonStatusReport.Json(workers, embedded), "application/json");
        });
    }
}
