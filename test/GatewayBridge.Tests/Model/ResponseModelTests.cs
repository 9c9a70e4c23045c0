using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using CsCheck;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GatewayBridge.Tests.Model;

/// <summary>
/// Generated apps (scripts of start_response, chunks, writes, failures, restarts with excInfo, declared lengths and
/// files) against generated requests (GET, HEAD, POST), on TestServer and on real Kestrel; every response is checked
/// against <see cref="ExpectedResponse"/>, a small model of PEP 3333 and HTTP framing, and every app's close() is
/// counted. The cases come from a fixed seed (GATEWAYBRIDGE_SEED replays another); a failing case is shrunk by CsCheck.
/// </summary>
public sealed class ResponseModelTests : IAsyncLifetime
{
    private const int Cases = 150;

    private static readonly Gen<int> Size = Gen.Frequency((4, Gen.Int[1, 200]), (2, Gen.Const(0)), (1, Gen.Int[1000, 70_000]));

    private static readonly Gen<ScriptStep> Steps = Gen.Frequency(
        (6, Size.Select(s => (ScriptStep)new Chunk(s))),
        (2, Size.Select(s => (ScriptStep)new Write(s))),
        (1, Gen.Const<ScriptStep>(new Fail())),
        (1, Gen.OneOf(500, 404, 299).Select(c => (ScriptStep)new Restart(c))));

    // Mostly a client that reads to the end; one in five leaves after a random number of response bytes (0: at once).
    private static readonly Gen<int?> Leave = Gen.Frequency((4, Gen.Const((int?)null)), (1, Gen.Int[0, 400].Select(n => (int?)n)));

    private static readonly Gen<(string, string)> Header = Gen.OneOf(
        ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2; Path=/; HttpOnly"), ("X-Custom", ""), ("X-Custom", "two words"), ("Cache-Control", "no-store"), ("Vary", "Accept"));

    private static readonly Gen<ResponseCase> Cases_ =
        from code in Gen.OneOf(200, 201, 204, 205, 299, 304, 404)
        from contentType in Gen.Bool
        from length in Gen.Enum<DeclaredLength>()
        from kind in Gen.Enum<BodyKind>()
        from startInBody in Gen.Bool
        from steps in Steps.List[0, 6]
        from fileSize in Gen.Int[0, 50_000]
        from method in Gen.OneOf("GET", "HEAD", "POST")
        from headers in Header.Array[0, 3]
        from leave in Leave
        from stall in Gen.Int[0, 6]
        select new ResponseCase(
            new ResponseScript(code, contentType, length, kind, kind == BodyKind.Iterator && startInBody, steps, kind == BodyKind.File ? fileSize : 0, headers),
            method,
            leave,
            leave is null ? null : Math.Min(stall, steps.Count));

    private readonly ConcurrentDictionary<string, ScriptedApp> _apps = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _handled = new();
    private readonly string _files = Directory.CreateTempSubdirectory("gatewaybridge-model-").FullName;
    private TestHost _memory = null!;
    private TestHost _kestrel = null!;
    private int _next;

    public async Task InitializeAsync()
    {
        _memory = await StartAsync(kestrel: false);
        _kestrel = await StartAsync(kestrel: true);
    }

    public async Task DisposeAsync()
    {
        await _memory.DisposeAsync();
        await _kestrel.DisposeAsync();
        Directory.Delete(_files, recursive: true);
    }

    [Fact]
    public Task OnTestServer_EveryResponseMatchesTheModel() => RunAsync(kestrel: false, stream: 1);

    [Fact]
    public Task OnKestrel_EveryResponseMatchesTheModel() => RunAsync(kestrel: true, stream: 2);

    private async Task RunAsync(bool kestrel, uint stream)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("GATEWAYBRIDGE_SEED"), out var s) ? s : 20261130;
        for (var i = 0; i < Cases; i++)
        {
            var pcg = new PCG(stream, (ulong)seed * 1000 + (ulong)i);
            var seedText = pcg.ToString();
            var generated = Cases_.Generate(pcg, null, out _);
            try
            {
                await CheckAsync(generated, kestrel);
            }
            catch (Exception ex)
            {
                // Shrink from the failing case; CsCheck reports the smallest failing script and its seed.
                await Cases_.SampleAsync(c => CheckAsync(c, kestrel), seed: seedText, iter: 300, threads: 1);
                throw new InvalidOperationException($"Case {i} (CsCheck seed {seedText}) failed, and did not fail again when shrunk: {generated}", ex);
            }
        }
    }

    private async Task CheckAsync(ResponseCase generated, bool kestrel)
    {
        var (script, method, leave, stallAt) = generated;
        var id = Interlocked.Increment(ref _next).ToString(CultureInfo.InvariantCulture);
        string? file = null;
        if (script.Kind == BodyKind.File)
        {
            file = Path.Combine(_files, id);
            await File.WriteAllBytesAsync(file, ResponseScript.Bytes(script.Steps.OfType<Write>().Sum(w => w.Size), script.FileSize));
        }

        var app = _apps[id] = new ScriptedApp(script, file, stallAt);
        var handled = _handled[id] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var observed = kestrel ? await SendOverKestrelAsync(id, method, leave, app.Stalled) : await SendInMemoryAsync(id, method, leave, app.Stalled);
        await handled.Task.WaitAsync(TimeSpan.FromSeconds(10));

        List<string> problems;
        if (leave is null)
        {
            var expected = ExpectedResponse.Of(script, method);
            problems = kestrel ? CompareOnTheWire(observed!, expected, method) : CompareInMemory(observed!, expected, method);
            problems.AddRange(app.EarlyOrLateHeaders);
        }
        else
        {
            // A client that left sees what it saw; what must hold is on the server: the request ended (awaited above),
            // the app heard of it (its RequestAborted fired), and what it returned was closed exactly once.
            problems = app.NeverAborted ? ["the client left, but the request was never aborted"] : [];
        }

        var closes = app.Called ? app.ExpectedCloses : 0;
        if (app.Closes != closes)
        {
            problems.Add($"close() ran {app.Closes} times, expected {closes}");
        }

        if (problems.Count > 0)
        {
            // The server's own account of the request helps read the counterexample.
            var path = "/" + id;
            var logs = (kestrel ? _kestrel : _memory).Logs.Entries.Where(e => e.Message.Contains(path, StringComparison.Ordinal) || e.Exception is not null).TakeLast(3);
            problems.AddRange(logs.Select(e => $"log: {e.Message} {e.Exception?.GetType().Name}: {e.Exception?.Message}"));
        }

        Assert.True(problems.Count == 0, $"{(kestrel ? "Kestrel" : "TestServer")}, {generated}: {string.Join("; ", problems)}");
    }

    // Kestrel's answer on the socket, or TestServer's when the app did not fail after its start.
    private static List<string> CompareOnTheWire(Observed observed, ExpectedResponse expected, string method)
    {
        var problems = CompareHead(observed, expected);
        if (!observed.Body.AsSpan().SequenceEqual(expected.Body))
        {
            problems.Add($"body of {observed.Body.Length} bytes, expected {expected.Body.Length}");
        }

        // Without a body there is no framing to break: HEAD, 204, 205 and 304 responses end with their headers.
        var noFraming = method == "HEAD" || expected.Status is 204 or 205 or 304;
        if (!noFraming && observed.Complete != expected.Complete)
        {
            problems.Add(observed.Complete ? "a broken response passed for a complete one" : "a complete response was cut");
        }

        return problems;
    }

    // TestServer has no wire: an app that fails after its response started faults the client's response (its status
    // and headers if they were flushed, and any body bytes not yet read, are lost with it). So a broken response must
    // show as a fault, never as a complete one, and what did arrive must be the start of the app's bytes.
    private static List<string> CompareInMemory(Observed observed, ExpectedResponse expected, string method)
    {
        if (!expected.FailedAfterStart)
        {
            return CompareOnTheWire(observed, expected, method);
        }

        var broken = observed.Status is null ? [] : CompareHead(observed, expected);
        if (!expected.Body.AsSpan().StartsWith(observed.Body))
        {
            broken.Add($"body of {observed.Body.Length} bytes is not the start of the app's {expected.Body.Length}");
        }

        if (observed.Complete)
        {
            broken.Add("a broken response passed for a complete one");
        }

        return broken;
    }

    private static List<string> CompareHead(Observed observed, ExpectedResponse expected)
    {
        var problems = new List<string>();
        if (observed.Status != expected.Status)
        {
            problems.Add($"status {observed.Status?.ToString(CultureInfo.InvariantCulture) ?? "none (the request faulted)"}, expected {expected.Status}");
        }

        // Per name, in order: Kestrel writes the headers it knows in an order of its own, but never reorders a name's values.
        foreach (var name in expected.Headers is null ? [] : ResponseScript.CheckedHeaders)
        {
            var seen = Values(observed.Headers, name);
            var wanted = Values(expected.Headers!, name);
            if (seen != wanted)
            {
                problems.Add($"{name}: [{seen}], expected [{wanted}]");
            }
        }

        return problems;

        static string Values(IEnumerable<(string Name, string Value)> headers, string name) =>
            string.Join(" | ", headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value));
    }

    private async Task<TestHost> StartAsync(bool kestrel) => await TestApp.StartAsync(
        web =>
        {
            web.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = _ => Task.CompletedTask });
            web.Use(async (context, next) =>
            {
                var id = context.Request.Path.Value![1..];
                try
                {
                    await next(context);
                }
                finally
                {
                    _handled[id].TrySetResult();
                }
            });
            web.UseGatewayApp((environ, startResponse) => _apps[((string)environ[Environ.PathInfo]!)[1..]].Handle(environ, startResponse), o => o.UseValidator = false);
        },
        kestrel);

    /// <summary>What the client saw; no status when the request faulted before its headers arrived (TestServer only).</summary>
    // TestServer's client abort is a cancelled send or read: RequestAborted fires on the server.
    private async Task LeaveInMemoryAsync(HttpRequestMessage request, int count, Task stalled)
    {
        using var leaving = new CancellationTokenSource();
        try
        {
            var send = _memory.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, leaving.Token);
            if (await Task.WhenAny(send, stalled) != send)
            {
                await leaving.CancelAsync();
            }

            using var response = await send;
            await using var stream = await response.Content.ReadAsStreamAsync(leaving.Token);
            var read = stream.ReadAtLeastAsync(new byte[Math.Max(count, 1)], count, throwOnEndOfStream: false, leaving.Token).AsTask();
            if (await Task.WhenAny(read, stalled) != read)
            {
                await leaving.CancelAsync();
            }

            await read;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException or InvalidOperationException)
        {
            // The client left, or the app failed before it could: either way the server's side is what is checked.
        }
    }

    /// <summary>A generated case: the app, the request's method, and for a client that leaves, when (null: it never does).</summary>
    public sealed record ResponseCase(ResponseScript Script, string Method, int? LeaveAfter, int? StallAt)
    {
        public override string ToString() =>
            $"{Method} {Script}{(LeaveAfter is int n ? $" (the app stalls before step {StallAt}; the client leaves then, or after {n} bytes)" : "")}";
    }

    private sealed record Observed(int? Status, IReadOnlyList<(string Name, string Value)> Headers, byte[] Body, bool Complete);

    // A leaving client reads until it has `leave` bytes or the app stalls (nothing more will come), then closes.
    private async Task<Observed?> SendOverKestrelAsync(string id, string method, int? leave, Task stalled)
    {
        using var connection = _kestrel.Connect();
        var body = method == "POST" ? "0123456789" : "";
        await connection.SendAsync($"{method} /{id} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{(body.Length > 0 ? $"Content-Length: {body.Length}\r\n" : "")}\r\n{body}");
        if (leave is int count)
        {
            await Task.WhenAny(connection.ReadAtLeastAsync(count, TimeSpan.FromSeconds(10)), stalled);
            return null;
        }

        var (text, _) = await connection.ReadToCloseAsync(TimeSpan.FromSeconds(10));
        var response = RawResponse.Parse(text);
        var status = int.Parse(response.StatusLine.Split(' ')[1], CultureInfo.InvariantCulture);
        return new Observed(status, response.Headers, Encoding.Latin1.GetBytes(response.Body), response.Complete);
    }

    private async Task<Observed?> SendInMemoryAsync(string id, string method, int? leave, Task stalled)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "/" + id);
        if (method == "POST")
        {
            request.Content = new StringContent("0123456789");
        }

        if (leave is int count)
        {
            await LeaveInMemoryAsync(request, count, stalled);
            return null;
        }

        HttpResponseMessage response;
        try
        {
            response = await _memory.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        }
        catch (InvalidOperationException ex) when (ex.Message == ScriptedApp.FailureMessage)
        {
            return new Observed(null, [], [], false);
        }

        using var _ = response;
        var body = new MemoryStream();
        var complete = true;
        try
        {
            await (await response.Content.ReadAsStreamAsync()).CopyToAsync(body);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidOperationException)
        {
            complete = false;
        }

        // TestServer keeps no framing of its own: a body shorter than its Content-Length is a cut one.
        if (complete && response.Content.Headers.ContentLength is long length && body.Length < length)
        {
            complete = false;
        }

        // NonValidated: HttpClient's typed parsing would merge repeated directives (two Cache-Control: no-store become one).
        var headers = response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated).SelectMany(h => h.Value.Select(v => (h.Key, v))).ToList();
        return new Observed((int)response.StatusCode, headers, body.ToArray(), complete);
    }
}
