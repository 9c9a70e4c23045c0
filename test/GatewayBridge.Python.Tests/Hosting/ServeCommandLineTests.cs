using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using GatewayBridge.Python.Tests.Infrastructure;
using GatewayBridge.Serve;
using Microsoft.AspNetCore.Builder;

namespace GatewayBridge.Python.Tests.Hosting;

/// <summary>The command line a gunicorn or uvicorn user types, against the parser and against running servers.</summary>
public partial class ServeCommandLineTests
{
    private static readonly string[] Python = ["--python", PythonTestHost.Python, "--chdir", PythonTestHost.AppsFolder];

    [Fact]
    public void GunicornsShortFlags_AndEveryBindForm_AreTaken_BesideKestrelsUrls()
    {
        var parsed = ServeArguments.Parse(["serve", "app:app", "-w", "4", "-t", "12", "-b", "0.0.0.0:8000", "-b", "[::]:8001", "-b", "unix:/tmp/gb.sock",
            "-b", "localhost", "--urls", "http://127.0.0.1:9000", "--threads=2"]);

        Assert.Equal(4, parsed.Python.Workers);
        Assert.Equal(2, parsed.Python.Threads);
        Assert.Equal(TimeSpan.FromSeconds(12), parsed.Python.Timeout);
        Assert.Equal(["http://127.0.0.1:9000", "http://0.0.0.0:8000", "http://[::]:8001", "http://unix:/tmp/gb.sock", "http://localhost:8000"], parsed.Addresses);
        Assert.Equal(["http://127.0.0.1:8000"], ServeArguments.Parse(["serve", "app:app"]).Addresses);
        Assert.Equal(["http://0.0.0.0:9001"], ServeArguments.Parse(["serve", "app:app", "--host", "0.0.0.0", "--port", "9001"]).Addresses);
        Assert.Equal(["https://127.0.0.1:8443"], ServeArguments.Parse(["serve", "app:app", "-b", "127.0.0.1:8443", "--certfile", "c.pem"]).Addresses);
    }

    [Fact]
    public void GunicornsOtherSpellings_AreTakenAsGunicornTakesThem()
    {
        var name = System.Net.Dns.GetHostName();
        var parsed = ServeArguments.Parse(["serve", "app:app", "-w4", "-b:8000", "-b", "tcp://127.0.0.1:8001", "-b", "unix:///tmp/gb.sock", "-b", "unix://gb.sock", "-b", $"{name}:8002"]);

        Assert.Equal(4, parsed.Python.Workers);

        // ':PORT' is every interface; a host name (the machine's own) is where it resolves to, not every interface.
        Assert.Equal(["http://0.0.0.0:8000", "http://127.0.0.1:8001", "http://unix:/tmp/gb.sock", $"http://unix:{Path.GetFullPath("gb.sock")}",
            .. System.Net.Dns.GetHostAddresses(name).Distinct().Select(ip => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"http://[{ip}]:8002" : $"http://{ip}:8002")], parsed.Addresses);
        Assert.DoesNotContain($"http://{name}:8002", parsed.Addresses);

        // Only a flag that takes a value takes it attached: -vx is no -v.
        Assert.StartsWith("Unknown option '-vx'", Assert.Throws<ArgumentException>(() => ServeArguments.Parse(["serve", "app:app", "-vx"])).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--wokers", "--workers")]
    [InlineData("--bnd", "--bind")]
    [InlineData("--preloa", "--preload")]
    [InlineData("--oreload", "--preload")]
    [InlineData("--acces-logfile", "--access-logfile")]
    public void AnUnknownFlag_IsAnError_WhoseFirstLineNamesTheNearestKnownOne(string typo, string nearest)
    {
        var error = Assert.Throws<ArgumentException>(() => ServeArguments.Parse(["serve", "app:app", typo, "1"]));

        Assert.Equal($"Unknown option '{typo}'; did you mean '{nearest}'?", error.Message.Split('\n')[0]);
    }

    [Theory]
    [InlineData("-b", "unix:/no/such/folder/gb.sock", "the folder /no/such/folder does not exist")]
    [InlineData("-b", "http://0.0.0.0:80", "a URL goes to --urls")]
    [InlineData("--bind", "127.0.0.1:99999", "give HOST:PORT")]
    [InlineData("--port", "70000", "0 to 65535")]
    [InlineData("--forwarded-allow-ips", "not-an-ip", "not an address or a network")]
    [InlineData("--paste", "/no/such/production.ini", "does not exist")]
    [InlineData("--root-path", "api/", "starts with '/'")]
    [InlineData("--access-logfile", "/no/such/folder/access.log", "/no/such/folder/access.log")]
    public async Task ABadValue_StopsTheServerBeforeItStarts_NamingTheFlagAndWhy(string flag, string value, string expected)
    {
        var error = new StringWriter();

        var status = await ServeCommand.RunAsync(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi", flag, value], TextWriter.Null, error);

        Assert.Equal(2, status);
        Assert.StartsWith("error: ", error.ToString(), StringComparison.Ordinal);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAddressInUse_StopsTheServer_SayingWhichAddressAndWhy()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var error = new StringWriter();

        var status = await ServeCommand.RunAsync(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi", "-b", $"127.0.0.1:{port}"], TextWriter.Null, error);

        Assert.Equal(2, status);
        Assert.Contains($"127.0.0.1:{port}", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("in use", error.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Help_ListsEveryFlag_InGunicornsGroups_AndVersion_SaysWhichTool()
    {
        var help = new StringWriter();
        var version = new StringWriter();

        Assert.Equal(0, await ServeCommand.RunAsync(["serve", "--help"], help, TextWriter.Null));
        Assert.Equal(0, await ServeCommand.RunAsync(["--version"], version, TextWriter.Null));

        foreach (var group in new[] { "Server socket:", "Worker processes:", "The app:", "Logging:", "SSL:", "Proxies:", "Operations:" })
        {
            Assert.Contains($"\n{group}\n", help.ToString(), StringComparison.Ordinal);
        }

        Assert.All(ServeFlags.All.SelectMany(f => f.Names), name => Assert.Matches($@"\n  [^\n]*{Regex.Escape(name)}\b", help.ToString()));
        Assert.StartsWith("gatewaybridge 0.2.0", version.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckConfig_ImportsTheApp_AndSaysSo_WithoutServing_OrFailsWithTheTraceback()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        Assert.Equal(0, await ServeCommand.RunAsync(["serve", "fastapi_app:app", .. Python, "--check-config", "-b", "127.0.0.1:1"], output, TextWriter.Null));
        Assert.Equal(1, await ServeCommand.RunAsync(["serve", "no_such_module:app", .. Python, "--check-config"], TextWriter.Null, error));

        Assert.Equal("ok: fastapi_app:app imports, and is an ASGI app", output.ToString().Split(" (")[0]);
        Assert.Contains("No module named 'no_such_module'", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BindUnix_ServesOnTheSocket_AsCurlsUnixSocketReachesIt()
    {
        using var folder = new TempFolder();
        var socket = Path.Combine(folder.Path, "gb.sock");
        await using var web = ServeCommand.BuildPython("wsgi_apps:hello", ServeArguments.Parse(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi", "-b", $"unix:{socket}"]));
        await web.StartAsync();

        var (status, body) = await CurlAsync("--unix-socket", socket, "http://localhost/there");

        Assert.Equal(0, status);
        Assert.Equal("Hello, /there!", body);
        await web.StopAsync();
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task BindUnix_MakesASocketAnyUserMayConnectTo_AsGunicornsDoes_AndNeverRemovesAFileThatIsNoSocket()
    {
        using var folder = new TempFolder();
        var socket = Path.Combine(folder.Path, "gb.sock");
        var output = new StringWriter();
        using var stop = new CancellationTokenSource();
        var run = ServeCommand.RunAsync(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi", "-b", $"unix:{socket}"], TextWriter.Synchronized(output), TextWriter.Null, stop.Token);
        await Eventually.HoldsAsync(() => output.ToString().Contains("Serving", StringComparison.Ordinal) || run.IsCompleted, "the server serving");

        Assert.Equal((UnixFileMode)0b111_111_111, File.GetUnixFileMode(socket));
        Assert.Equal((0, "Hello, /x!"), await CurlAsync("--unix-socket", socket, "http://localhost/x"));
        await stop.CancelAsync();
        Assert.Equal(0, await run);

        var plain = Path.Combine(folder.Path, "plain");
        await File.WriteAllTextAsync(plain, "");
        var error = new StringWriter();
        using var never = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Assert.Equal(2, await ServeCommand.RunAsync(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi", "-b", $"unix:{plain}"], TextWriter.Null, error, never.Token));
        Assert.Contains("not a socket", error.ToString(), StringComparison.Ordinal);
        Assert.True(File.Exists(plain));
    }

    [Fact]
    public async Task CertfileAndKeyfile_ServeHttps()
    {
        using var folder = new TempFolder();
        var (cert, key) = WriteCertificate(folder.Path);
        await using var web = ServeCommand.BuildPython("wsgi_apps:dump", ServeArguments.Parse(["serve", "wsgi_apps:dump", .. Python, "--interface", "wsgi",
            "-b", "127.0.0.1:0", "--certfile", cert, "--keyfile", key]));
        await web.StartAsync();
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = static (_, certificate, _, _) => certificate?.Subject == "CN=gatewaybridge-test" };
        using var client = new HttpClient(handler);

        using var environ = JsonDocument.Parse(await client.GetStringAsync(web.Urls.Single() + "/"));

        Assert.StartsWith("https://", web.Urls.Single(), StringComparison.Ordinal);
        Assert.Equal("https", environ.RootElement.GetProperty("wsgi.url_scheme").GetString());
        await web.StopAsync();
    }

    [Fact]
    public async Task ACertificateThatDoesNotLoad_StopsTheServer_NamingTheFile()
    {
        using var folder = new TempFolder();
        var bad = Path.Combine(folder.Path, "bad.pem");
        await File.WriteAllTextAsync(bad, "not a certificate");
        var error = new StringWriter();

        Assert.Equal(2, await ServeCommand.RunAsync(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi", "--certfile", bad], TextWriter.Null, error));
        Assert.Contains($"--certfile {bad} does not load", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "Hello from production.ini")]
    [InlineData("#staging", "Hello from staging")]
    public async Task Paste_ServesTheNamedAppOfAPyramidProductionIni(string name, string expected)
    {
        var ini = Path.Combine(PythonTestHost.AppsFolder, "production.ini");
        var arguments = ServeArguments.Parse(["serve", "--paste", ini + name, .. Python, "-b", "127.0.0.1:0"]);
        await using var web = ServeCommand.BuildPython(arguments.AppSpec!, arguments);
        await web.StartAsync();
        using var client = new HttpClient();

        Assert.Equal(expected, await client.GetStringAsync(web.Urls.Single() + "/"));
        await web.StopAsync();
    }

    [Fact]
    public async Task APasteFileWithoutTheNamedApp_StopsTheServer_SayingSo()
    {
        var error = new StringWriter();

        var status = await ServeCommand.RunAsync(["serve", "--paste", Path.Combine(PythonTestHost.AppsFolder, "production.ini#nope"), .. Python], TextWriter.Null, error);

        Assert.Equal(2, status);
        Assert.Contains("has no app named 'nope'", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAccessLog_HasGunicornsFormat_ForPythonAndNativeRequests_LineForLineAsGunicornWritesIt()
    {
        using var folder = new TempFolder();
        var ours = Path.Combine(folder.Path, "ours.log");
        var theirs = Path.Combine(folder.Path, "theirs.log");
        await using var web = ServeCommand.BuildPython("wsgi_apps:hello", ServeArguments.Parse(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi",
            "-b", "127.0.0.1:0", "--access-logfile", ours, "--health-path", "/healthz"]));
        await web.StartAsync();
        var gunicorn = new GunicornServer("wsgi_apps:hello", "--access-logfile", theirs);
        await gunicorn.InitializeAsync();
        try
        {
            const string Request = "GET /x%20y?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: probe/1.0\r\nReferer: http://ref.example/\r\nConnection: close\r\n\r\n";
            const string Head = "HEAD /h HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
            await RawAsync(new Uri(web.Urls.Single()).Port, Request);
            await RawAsync(gunicorn.Port, Request);
            await RawAsync(new Uri(web.Urls.Single()).Port, Head);
            await RawAsync(gunicorn.Port, Head);
            await RawAsync(new Uri(web.Urls.Single()).Port, "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");

            var lines = await Eventually.ReturnsAsync(() => Task.FromResult(File.Exists(ours) ? File.ReadAllLines(ours) : []), l => l.Length == 3, "three access log lines");
            var gunicornLines = await Eventually.ReturnsAsync(() => Task.FromResult(File.Exists(theirs) ? File.ReadAllLines(theirs) : []), l => l.Length == 2, "gunicorn's lines");

            Assert.Equal(WithoutTime(gunicornLines[0]), WithoutTime(lines[0]));
            // gunicorn 20.1 writes a HEAD response's body to the socket, and counts it; Kestrel sends none: 0 bytes.
            Assert.Equal(WithoutTime(gunicornLines[1]).Replace("\" 200 10 ", "\" 200 0 ", StringComparison.Ordinal), WithoutTime(lines[1]));
            Assert.Contains("\" 200 10 ", gunicornLines[1], StringComparison.Ordinal);
            Assert.Matches(@"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ""GET /healthz HTTP/1\.1"" 200 \d+ ""-"" ""-""$", lines[2]);
        }
        finally
        {
            await gunicorn.DisposeAsync();
            await web.StopAsync();
        }
    }

    [Fact]
    public async Task AnAccessLogFormat_TakesGunicornsAtoms()
    {
        using var folder = new TempFolder();
        var log = Path.Combine(folder.Path, "access.log");
        await using var web = ServeCommand.BuildPython("wsgi_apps:hello", ServeArguments.Parse(["serve", "wsgi_apps:hello", .. Python, "--interface", "wsgi",
            "-b", "127.0.0.1:0", "--root-path", "/api", "--access-logfile", log, "--access-logformat",
            "%(m)s %(U)s %(q)s %(s)s %(B)s %({x-tag}i)s %({content-type}o)s %({script_name}e)s %({HTTP_X_TAG}e)s %({query_string}e)s %({home}e)s %(D)s 100%%"]));
        await web.StartAsync();

        await RawAsync(new Uri(web.Urls.Single()).Port, "POST /p?a=b HTTP/1.1\r\nHost: h\r\nX-Tag: t1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

        // %(U)s is PATH_INFO, as gunicorn's; %({key}e)s reads the request's environ, never the server's environment.
        var line = (await Eventually.ReturnsAsync(() => Task.FromResult(File.Exists(log) ? File.ReadAllLines(log) : []), l => l.Length == 1, "the line"))[0];
        Assert.Matches(@"^POST /p a=b 200 10 t1 text/plain /api t1 a=b - \d+ 100%$", line);
        await web.StopAsync();
    }

    [Fact]
    public async Task RootPath_IsTheScriptName_OfARequestAProxyHandsOnWithoutIt()
    {
        await using var web = ServeCommand.BuildPython("wsgi_apps:dump", ServeArguments.Parse(["serve", "wsgi_apps:dump", .. Python, "--interface", "wsgi",
            "-b", "127.0.0.1:0", "--root-path", "/api"]));
        await web.StartAsync();
        using var client = new HttpClient();

        using var environ = JsonDocument.Parse(await client.GetStringAsync(web.Urls.Single() + "/items"));

        Assert.Equal("/api", environ.RootElement.GetProperty("SCRIPT_NAME").GetString());
        Assert.Equal("/items", environ.RootElement.GetProperty("PATH_INFO").GetString());
        await web.StopAsync();
    }

    [Theory]
    [InlineData("--proxy-headers", "", "127.0.0.1")]
    [InlineData("--forwarded-allow-ips", "127.0.0.1", "203.0.113.7")]
    [InlineData("--forwarded-allow-ips", "10.0.0.0/8", "127.0.0.1")]
    public async Task ProxyHeaders_AreTrustedFromTheAllowedAddressesOnly(string flag, string value, string expected)
    {
        string[] proxy = value.Length == 0 ? [flag] : [flag, value];
        await using var web = ServeCommand.BuildPython("wsgi_apps:dump", ServeArguments.Parse(["serve", "wsgi_apps:dump", .. Python, "--interface", "wsgi",
            "-b", "127.0.0.1:0", .. proxy]));
        await web.StartAsync();
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, web.Urls.Single() + "/");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");

        using var response = await client.SendAsync(request);
        using var environ = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        // uvicorn trusts 127.0.0.1 by default, as ASP.NET Core does: --proxy-headers alone trusts loopback.
        Assert.Equal(flag == "--proxy-headers" ? "203.0.113.7" : expected, environ.RootElement.GetProperty("REMOTE_ADDR").GetString());
        await web.StopAsync();
    }

    [Fact]
    public async Task Sigttin_AddsAWorker_AndSigttou_RemovesOne_AsTheStatusPageShows()
    {
        var port = FreePort();
        var serve = Path.Combine(AppContext.BaseDirectory, "GatewayBridge.Serve.dll");
        using var tool = Process.Start(new ProcessStartInfo("dotnet", [serve, "serve", "worker_apps:router", .. Python, "--interface", "wsgi", "-w", "1",
            "-b", $"127.0.0.1:{port}", "--status-path", "/_status"])
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        tool.ErrorDataReceived += (_, e) => errors.Enqueue(e.Data ?? "");
        tool.OutputDataReceived += (_, _) => { };
        tool.BeginErrorReadLine();
        tool.BeginOutputReadLine();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        try
        {
            await Eventually.ReturnsAsync(() => ServingAsync(client), n => n == 1, "one serving worker");

            Assert.Equal(0, Signal(tool.Id, 21));
            await Eventually.ReturnsAsync(() => ServingAsync(client), n => n == 2, "a second worker after SIGTTIN");
            Assert.Equal(0, Signal(tool.Id, 22));
            await Eventually.ReturnsAsync(() => ServingAsync(client), n => n == 1, "one worker again after SIGTTOU");

            // SIGTTOU never takes the last worker, and says so; SIGHUP then replaces that one, and the tool serves on.
            var before = await ServingPidsAsync(client);
            Assert.Equal(0, Signal(tool.Id, 22));
            await Eventually.HoldsAsync(() => errors.Any(l => l.Contains("SIGTTOU: could not remove a worker", StringComparison.Ordinal) && l.Contains("one worker is the fewest", StringComparison.Ordinal)), "the refusal");
            Assert.Equal(0, Signal(tool.Id, 1));
            await Eventually.ReturnsAsync(() => ServingPidsAsync(client), pids => pids.Count == 1 && !pids.Contains(before.Single()), "the worker replaced by SIGHUP");
            Assert.False(tool.HasExited);
        }
        finally
        {
            _ = Signal(tool.Id, 15);
            await Task.WhenAny(tool.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
            if (!tool.HasExited)
            {
                // Never left behind: the tool and the workers it started.
                tool.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task<List<int>> ServingPidsAsync(HttpClient client)
    {
        using var status = JsonDocument.Parse(await client.GetStringAsync("/_status"));
        return [.. status.RootElement.GetProperty("apps")[0].GetProperty("workers").EnumerateArray()
            .Where(w => w.GetProperty("state").GetString() == "serving").Select(w => w.GetProperty("pid").GetInt32())];
    }

    private static async Task<int> ServingAsync(HttpClient client)
    {
        try
        {
            using var status = JsonDocument.Parse(await client.GetStringAsync("/_status"));
            return status.RootElement.GetProperty("apps")[0].GetProperty("workers").EnumerateArray().Count(w => w.GetProperty("state").GetString() == "serving");
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static string WithoutTime(string line) => Regex.Replace(line, @"\[[^\]]*\]", "[time]");

    private static async Task RawAsync(int port, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(request));
        var buffer = new byte[4096];
        while (await socket.ReceiveAsync(buffer) > 0)
        {
        }
    }

    private static async Task<(int Status, string Body)> CurlAsync(params string[] args)
    {
        using var curl = Process.Start(new ProcessStartInfo("curl", ["-s", "--max-time", "20", .. args]) { RedirectStandardOutput = true })!;
        var body = await curl.StandardOutput.ReadToEndAsync();
        await curl.WaitForExitAsync();
        return (curl.ExitCode, body);
    }

    private static (string Cert, string Key) WriteCertificate(string folder)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=gatewaybridge-test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var cert = Path.Combine(folder, "cert.pem");
        var key = Path.Combine(folder, "key.pem");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(key, rsa.ExportPkcs8PrivateKeyPem());
        return (cert, key);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Signal(int pid, int signal);
}
