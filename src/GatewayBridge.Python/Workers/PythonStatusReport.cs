using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace GatewayBridge.Python;

/// <summary>
/// What <c>MapPythonStatus</c> shows, as uWSGI's stats server and mod_status do: per app, its interface and mode, each
/// worker (pid, state, since when, requests served, in flight, the request it runs with its path and seconds, its own
/// memory), its restarts by reason and its queue. Never a request's body, headers or query string: a path at most.
/// </summary>
internal static class PythonStatusReport
{
    /// <summary>The report as JSON.</summary>
    public static byte[] Json(PythonWorkers workers, EmbeddedPythonHost embedded)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteStartArray("apps");
            foreach (var app in Apps(workers, embedded))
            {
                json.WriteStartObject();
                json.WriteString("app", app.Spec);
                json.WriteString("interface", app.Interface);
                json.WriteString("mode", app.Mode);
                json.WriteNumber("queued", app.Queued);
                if (app.TemplatePid is { } template)
                {
                    json.WriteNumber("template_pid", template);
                }

                if (app.Threads is { } threads)
                {
                    json.WriteNumber("threads", threads.Count);
                    json.WriteNumber("busy_threads", threads.Busy);
                }

                json.WriteStartObject("restarts");
                foreach (var (reason, count) in app.Restarts)
                {
                    json.WriteNumber(reason, count);
                }

                json.WriteEndObject();
                json.WriteStartArray("workers");
                foreach (var worker in app.Workers)
                {
                    json.WriteStartObject();
                    json.WriteNumber("pid", worker.Pid);
                    json.WriteString("state", worker.State);
                    if (worker.Since is { } since)
                    {
                        json.WriteString("serving_since", since.ToString("O", CultureInfo.InvariantCulture));
                    }

                    json.WriteNumber("requests", worker.Served);
                    json.WriteNumber("in_flight", worker.InFlight);
                    if (worker.Current is { } current)
                    {
                        json.WriteStartObject("current");
                        json.WriteString("path", current.Path);
                        json.WriteNumber("seconds", Math.Round(current.Seconds, 3));
                        json.WriteEndObject();
                    }
                    else
                    {
                        json.WriteNull("current");
                    }

                    var memory = Memory(worker.Pid);
                    json.WriteStartObject("memory");
                    json.WriteNumber("uss", memory.Uss);
                    json.WriteNumber("pss", memory.Pss);
                    json.WriteNumber("rss", memory.Rss);
                    json.WriteEndObject();
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <summary>The report as a plain HTML page: a table per app, no script.</summary>
    public static string Html(PythonWorkers workers, EmbeddedPythonHost embedded)
    {
        var html = new StringBuilder("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Python workers</title>"
            + "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 8px;text-align:right}"
            + "td.l,th.l{text-align:left}</style></head><body>\n");
        html.Append(CultureInfo.InvariantCulture, $"<h1>Python apps of process {Environment.ProcessId}</h1>\n");
        foreach (var app in Apps(workers, embedded))
        {
            html.Append(CultureInfo.InvariantCulture, $"<h2>{E(app.Spec)}</h2>\n<p>{E(app.Interface.ToUpperInvariant())}, {E(app.Mode)}; {app.Queued} queued");
            if (app.TemplatePid is { } template)
            {
                html.Append(CultureInfo.InvariantCulture, $"; template pid {template}");
            }

            if (app.Threads is { } threads)
            {
                html.Append(CultureInfo.InvariantCulture, $"; {threads.Busy} of {threads.Count} Python threads busy");
            }

            html.Append("; restarts: ").Append(app.Restarts.Count == 0 ? "none" : E(string.Join(", ", app.Restarts.Select(r => $"{r.Key} {r.Value}")))).Append("</p>\n");
            if (app.Workers.Count == 0)
            {
                continue;
            }

            html.Append("<table><tr><th>pid</th><th class=\"l\">state</th><th class=\"l\">serving since</th><th>requests</th><th>in flight</th>"
                + "<th class=\"l\">request</th><th>seconds</th><th>USS kB</th><th>PSS kB</th><th>RSS kB</th></tr>\n");
            foreach (var worker in app.Workers)
            {
                var memory = Memory(worker.Pid);
                html.Append(CultureInfo.InvariantCulture,
                    $"<tr><td>{worker.Pid}</td><td class=\"l\">{E(worker.State)}</td><td class=\"l\">{E(worker.Since?.ToString("u", CultureInfo.InvariantCulture) ?? "")}</td>"
                    + $"<td>{worker.Served}</td><td>{worker.InFlight}</td><td class=\"l\">{E(worker.Current?.Path ?? "")}</td>"
                    + $"<td>{(worker.Current is { } c ? c.Seconds.ToString("0.0", CultureInfo.InvariantCulture) : "")}</td>"
                    + $"<td>{memory.Uss / 1024}</td><td>{memory.Pss / 1024}</td><td>{memory.Rss / 1024}</td></tr>\n");
            }

            html.Append("</table>\n");
        }

        return html.Append("</body></html>\n").ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static List<AppStatus> Apps(PythonWorkers workers, EmbeddedPythonHost embedded)
    {
        var apps = new List<AppStatus>();
        foreach (var supervisor in workers.Supervisors)
        {
            var list = supervisor.Workers.Select(w => WorkerOf(w, supervisor.IsAsgi)).ToList();
            apps.Add(new AppStatus(supervisor.AppSpec, supervisor.IsAsgi ? "asgi" : "wsgi", supervisor.Template is null ? "workers" : "workers, preloaded",
                supervisor.Pool.Queued, supervisor.Template?.Pid, null, supervisor.Restarts, list));
        }

        foreach (var (spec, kind) in embedded.Apps)
        {
            var threads = kind == "wsgi" ? embedded.StartedThreads : null;
            apps.Add(new AppStatus(spec, kind, kind == "wsgi" ? "in-process, Python threads" : "in-process, one asyncio loop",
                threads?.Queued ?? 0, null, threads is null ? null : (threads.Count, threads.Busy), new Dictionary<string, int>(), []));
        }

        return apps;
    }

    private static WorkerStatus WorkerOf(Worker worker, bool asgi)
    {
        // The request a WSGI worker runs: the oldest it took from its queue (an ASGI worker runs many at once: its
        // oldest). Requests still in its queue are not running.
        var started = asgi ? uint.MaxValue : worker.LastStarted();
        var running = worker.Calls.Where(c => c.Id <= started).MinBy(c => c.Opened);
        var current = running is null ? null : new CurrentRequest(running.Path, Stopwatch.GetElapsedTime(running.Opened).TotalSeconds);
        return new WorkerStatus(worker.Pid, worker.Life.State.ToString().ToLowerInvariant(), worker.ServingSince, worker.Served, worker.OpenCalls, current);
    }

    /// <summary>A process's memory in bytes: USS (pages only it maps), PSS (its share of every page), RSS.</summary>
    public static (long Uss, long Pss, long Rss) Memory(int pid)
    {
        long uss = 0, pss = 0, rss = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                var value = line.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var kb, ..] && long.TryParse(kb, CultureInfo.InvariantCulture, out var n) ? n * 1024 : 0;
                if (line.StartsWith("Rss:", StringComparison.Ordinal))
                {
                    rss = value;
                }
                else if (line.StartsWith("Pss:", StringComparison.Ordinal))
                {
                    pss = value;
                }
                else if (line.StartsWith("Private_Clean:", StringComparison.Ordinal) || line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
                {
                    uss += value;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Gone meanwhile.
        }

        return (uss, pss, rss);
    }

    private sealed record AppStatus(
        string Spec, string Interface, string Mode, int Queued, int? TemplatePid, (int Count, int Busy)? Threads, IReadOnlyDictionary<string, int> Restarts,
        IReadOnlyList<WorkerStatus> Workers);

    private sealed record WorkerStatus(int Pid, string State, DateTimeOffset? Since, int Served, int InFlight, CurrentRequest? Current);

    private sealed record CurrentRequest(string Path, double Seconds);
}
