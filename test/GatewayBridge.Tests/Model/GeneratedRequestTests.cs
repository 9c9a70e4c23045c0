using System.Globalization;
using System.Text;
using System.Text.Json;
using CsCheck;
using GatewayBridge.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GatewayBridge.Tests.Model;

/// <summary>
/// Generated raw requests over a real socket, each environ checked against section 3 of the contract: the CGI keys
/// against what ASP.NET itself parsed for the same request (PATH_INFO is Request.Path, %2F kept), HTTP_* keys one
/// per header with repeats joined, underscore names dropped, no HTTP_CONTENT_* twins, the body intact.
/// </summary>
public sealed class GeneratedRequestTests : IAsyncLifetime
{
    private const int Cases = 150;

    private static readonly Gen<string> Segment = Gen.OneOf("a", "B", "caf%C3%A9", "%2F", "%2f", "%41", "%FF", "%25", ";p=1", "..", ".", "x%20y", "~", "", "%E4%B8%AD");

    private static readonly Gen<string> Path_ = Segment.Array[1, 5].Select(parts => "/" + string.Join('/', parts));

    private static readonly Gen<string> Query = Gen.OneOf("", "?", "?a=1", "?a=1&a=2", "?q=caf%C3%A9+x&flag", "?x=%2F&y=%FF", "?=v&k=");

    private static readonly Gen<(string Name, string Value)> Header =
        from name in Gen.OneOf("X-One", "x-one", "X-Two", "X_Under", "Accept", "Cookie", "X-Empty", "user-agent")
        from value in Gen.OneOf("v", "a, b", "", "caf\u00e9", "k=1", "  padded  ")
        select (name, value);

    private static readonly Gen<(string Method, string Target, (string Name, string Value)[] Headers, string Body, bool Chunked)> Requests =
        from method in Gen.OneOf("GET", "POST", "PUT", "DELETE", "PATCH")
        from path in Path_
        from query in Query
        from headers in Header.Array[0, 6]
        from body in Gen.OneOf("", "x", "hello world", new string('b', 5000))
        from chunked in Gen.Bool
        select (method, path + query, headers, method is "GET" or "DELETE" ? "" : body, chunked);

    private TestHost _host = null!;
    private int _answered;

    public async Task InitializeAsync()
    {
        _host = await TestApp.StartAsync(
            web => web.UseGatewayApp(
                (environ, startResponse) =>
                {
                    // The environ as seen, beside what ASP.NET parsed for the same request.
                    var context = (HttpContext)environ[Environ.HttpContext]!;
                    var input = new MemoryStream();
                    ((Stream)environ[Environ.Input]!).CopyTo(input);
                    var strings = environ.Where(p => p.Value is string).ToDictionary(p => p.Key, p => (string)p.Value!);
                    strings["(body)"] = Encoding.UTF8.GetString(input.ToArray());
                    strings["(Request.Path)"] = context.Request.Path.Value ?? "";
                    strings["(Request.QueryString)"] = context.Request.QueryString.Value ?? "";
                    startResponse("200 OK", [("Content-Type", "application/json")]);
                    return [JsonSerializer.SerializeToUtf8Bytes(strings)];
                },
                o => o.UseValidator = false),
            kestrel: true);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task EveryEnviron_FollowsSection3_ForGeneratedRequests()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("GATEWAYBRIDGE_SEED"), out var s) ? s : 20261130;
        for (var i = 0; i < Cases; i++)
        {
            var pcg = new PCG(3, (ulong)seed * 1000 + (ulong)i);
            var seedText = pcg.ToString();
            var request = Requests.Generate(pcg, null, out _);
            try
            {
                await CheckAsync(request);
            }
            catch (Exception ex)
            {
                await Requests.SampleAsync(CheckAsync, seed: seedText, iter: 300, threads: 1);
                throw new InvalidOperationException($"Case {i} (CsCheck seed {seedText}) failed, and did not fail again when shrunk.", ex);
            }
        }

        // Kestrel's own 400s are allowed, but a run that they dominate checks nothing.
        Assert.True(_answered >= Cases * 3 / 4, $"only {_answered} of {Cases} generated requests reached the app");
    }

    private async Task CheckAsync((string Method, string Target, (string Name, string Value)[] Headers, string Body, bool Chunked) request)
    {
        var (method, target, headers, body, chunked) = request;
        var text = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: gen.example:8081\r\n");
        foreach (var (name, value) in headers)
        {
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (body.Length > 0)
        {
            text.Append(chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n");
        }

        text.Append("Connection: close\r\n\r\n");
        if (body.Length > 0)
        {
            text.Append(chunked ? $"{Encoding.UTF8.GetByteCount(body):x}\r\n{body}\r\n0\r\n\r\n" : body);
        }

        using var connection = _host.Connect();
        await connection.SendAsync(Encoding.UTF8.GetBytes(text.ToString()));
        var (raw, _) = await connection.ReadToCloseAsync();
        var response = RawResponse.Parse(raw);
        if (!response.StatusLine.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
        {
            // Kestrel refused the request itself (a %00 or malformed target): never the bridge's business.
            Assert.StartsWith("HTTP/1.1 400", response.StatusLine, StringComparison.Ordinal);
            return;
        }

        _answered++;
        var environ = JsonSerializer.Deserialize<Dictionary<string, string>>(Encoding.Latin1.GetBytes(response.Body))!;
        var problems = new List<string>();
        void Expect(string key, string? value)
        {
            var actual = environ.GetValueOrDefault(key);
            if (actual != value)
            {
                problems.Add($"{key}: '{actual ?? "<absent>"}', expected '{value ?? "<absent>"}'");
            }
        }

        Expect("REQUEST_METHOD", method);
        Expect("SCRIPT_NAME", "");
        Expect("PATH_INFO", environ["(Request.Path)"]);
        Expect("QUERY_STRING", environ["(Request.QueryString)"].TrimStart('?'));
        Expect("REQUEST_URI", target);
        Expect("SERVER_NAME", "gen.example");
        Expect("SERVER_PORT", "8081");
        Expect("SERVER_PROTOCOL", "HTTP/1.1");
        Expect("CONTENT_LENGTH", body.Length > 0 && !chunked ? Encoding.UTF8.GetByteCount(body).ToString(CultureInfo.InvariantCulture) : null);
        Expect("(body)", body);
        var pathInfo = environ["PATH_INFO"];
        if (!pathInfo.StartsWith('/'))
        {
            problems.Add("PATH_INFO does not start with '/'");
        }

        // Beside ASP.NET's own parse, an independent reading of section 3: percent-decoded as UTF-8 where the bytes
        // are UTF-8, %2F kept encoded (so no encoded slash becomes a separator), dot segments resolved.
        var rawPath = target.Split('?')[0];
        if (pathInfo.Count(c => c == '/') > rawPath.Count(c => c == '/'))
        {
            problems.Add("PATH_INFO has more segments than the raw path: an encoded slash became a separator");
        }

        if (pathInfo.Split('/').Any(segment => segment is "." or ".."))
        {
            problems.Add("PATH_INFO kept a dot segment");
        }

        if (!rawPath.Split('/').Any(segment => segment is "." or "..") && pathInfo != DecodeKeepingSlashes(rawPath))
        {
            problems.Add($"PATH_INFO '{pathInfo}' is not the decoded path '{DecodeKeepingSlashes(rawPath)}'");
        }

        // One HTTP_* key per header name (as Kestrel keeps it: trimmed), repeats joined with ',' (cookies '; ').
        var byKey = headers.Where(h => !h.Name.Contains('_', StringComparison.Ordinal))
            .GroupBy(h => "HTTP_" + h.Name.ToUpperInvariant().Replace('-', '_'))
            .ToDictionary(g => g.Key, g => string.Join(g.Key == "HTTP_COOKIE" ? "; " : ",", g.Select(h => h.Value.Trim())));
        foreach (var (key, value) in byKey)
        {
            Expect(key, value);
        }

        var unexpected = environ.Keys.Where(k => k.StartsWith("HTTP_", StringComparison.Ordinal) && k is not ("HTTP_HOST" or "HTTP_CONNECTION" or "HTTP_TRANSFER_ENCODING") && !byKey.ContainsKey(k));
        problems.AddRange(unexpected.Select(k => $"{k} should not be there (an underscore header, or a CONTENT_* twin)"));
        Assert.True(problems.Count == 0, $"{method} {target} [{string.Join(", ", headers.Select(h => $"{h.Name}: {h.Value}"))}] body {body.Length}{(chunked ? " chunked" : "")}: {string.Join("; ", problems)}");
    }

    // Uri's unescaping leaves bytes that are not UTF-8 escaped, as Kestrel does; the encoded slashes are kept apart.
    private static string DecodeKeepingSlashes(string rawPath) =>
        string.Join("%2F", rawPath.Split("%2F").Select(part => string.Join("%2f", part.Split("%2f").Select(Uri.UnescapeDataString))));
}
