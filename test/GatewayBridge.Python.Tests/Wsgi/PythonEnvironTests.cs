using System.Text;
using System.Text.Json;
using GatewayBridge.Python.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace GatewayBridge.Python.Tests.Wsgi;

/// <summary>The environ a Python app sees, over a real socket: PEP 3333 native strings, as gunicorn gives them.</summary>
public class PythonEnvironTests
{
    public static async Task<Dictionary<string, string>> DumpAsync(TestHost host, string target, string headers = "", string method = "GET", string body = "")
    {
        using var connection = host.Connect();
        var request = $"{method} {target} HTTP/1.1\r\nHost: example.com:8080\r\n{headers}Connection: close\r\n" +
            (body.Length > 0 ? $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" : "") + "\r\n" + body;
        await connection.SendAsync(Encoding.UTF8.GetBytes(request));
        var (text, _) = await connection.ReadToCloseAsync();
        var response = RawResponse.Parse(text);
        Assert.Equal("HTTP/1.1 200 OK", response.StatusLine);
        return JsonSerializer.Deserialize<Dictionary<string, string>>(response.Body)!;
    }

    [Theory]
    [InlineData("/", "/", "")]
    [InlineData("/caf%C3%A9", "/caf\u00c3\u00a9", "")]
    [InlineData("/a%2Fb", "/a/b", "")]
    [InlineData("/%FF%FE", "/\u00ff\u00fe", "")]
    [InlineData("/a%25b", "/a%b", "")]
    [InlineData("/a%252Fb", "/a%2Fb", "")]
    [InlineData("/x;y=1/z", "/x;y=1/z", "")]
    [InlineData("/sp%20ace//twice", "/sp ace//twice", "")]
    [InlineData("/p?q=%C3%A9&x=1&y", "/p", "q=%C3%A9&x=1&y")]
    [InlineData("/a/./b/../c", "/a/c", "")]
    public async Task PathInfoAndQuery_AreNativeStringsOfTheRawBytes(string target, string pathInfo, string query)
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:dump", kestrel: true);
        var environ = await DumpAsync(host, target);

        Assert.Equal(pathInfo, environ["PATH_INFO"]);
        Assert.Equal(query, environ["QUERY_STRING"]);
        Assert.Equal("", environ["SCRIPT_NAME"]);
        Assert.Equal(target, environ["RAW_URI"]);
        Assert.Equal(target, environ["REQUEST_URI"]);
    }

    [Theory]
    [InlineData("/mount", "/mount", "")]
    [InlineData("/mount/", "/mount", "/")]
    [InlineData("/MOUNT/caf%C3%A9/a%2Fb", "/MOUNT", "/caf\u00c3\u00a9/a/b")]
    public async Task AMountedApp_SeesTheMountAsScriptName(string target, string scriptName, string pathInfo)
    {
        await using var host = await PythonTestHost.StartAsync(app => app.MapPythonWsgiApp("/mount", "wsgi_apps:dump", o => o.UseValidator = true), kestrel: true);
        var environ = await DumpAsync(host, target);

        Assert.Equal(scriptName, environ["SCRIPT_NAME"]);
        Assert.Equal(pathInfo, environ["PATH_INFO"]);
    }

    [Fact]
    public async Task Headers_AreHttpKeysOfNativeStrings_RepeatsJoined_UnderscoresDropped()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:dump", kestrel: true);
        var environ = await DumpAsync(host, "/", "X-Name: caf\u00e9\r\nAccept: a\r\nAccept: b\r\nX_Spoof: 1\r\nX-Empty:\r\n");

        Assert.Equal("caf\u00c3\u00a9", environ["HTTP_X_NAME"]);
        Assert.Equal("a,b", environ["HTTP_ACCEPT"]);
        Assert.Equal("", environ["HTTP_X_EMPTY"]);
        Assert.Equal("example.com:8080", environ["HTTP_HOST"]);
        Assert.False(environ.ContainsKey("HTTP_X_SPOOF"));
    }

    [Fact]
    public async Task EveryPep3333Key_IsThereWithItsType()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:dump", kestrel: true);
        var environ = await DumpAsync(host, "/p?x=1", method: "POST", headers: "Content-Type: text/plain\r\n", body: "hello");

        Assert.Equal("POST", environ["REQUEST_METHOD"]);
        Assert.Equal("example.com", environ["SERVER_NAME"]);
        Assert.Equal("8080", environ["SERVER_PORT"]);
        Assert.Equal("HTTP/1.1", environ["SERVER_PROTOCOL"]);
        Assert.Equal("text/plain", environ["CONTENT_TYPE"]);
        Assert.Equal("5", environ["CONTENT_LENGTH"]);
        Assert.Equal("127.0.0.1", environ["REMOTE_ADDR"]);
        Assert.Matches("^[0-9]+$", environ["REMOTE_PORT"]);
        Assert.Equal("GatewayBridge", environ["SERVER_SOFTWARE"]);
        Assert.Equal("(1, 0)", environ["wsgi.version"]);
        Assert.Equal("http", environ["wsgi.url_scheme"]);
        Assert.Equal("True", environ["wsgi.multithread"]);
        Assert.Equal("False", environ["wsgi.multiprocess"]);
        Assert.Equal("False", environ["wsgi.run_once"]);
        Assert.Equal("True", environ["wsgi.input_terminated"]);
        Assert.StartsWith("<", environ["wsgi.input"], StringComparison.Ordinal);
        Assert.StartsWith("<", environ["wsgi.errors"], StringComparison.Ordinal);
        Assert.Equal("<type>", environ["wsgi.file_wrapper"]);
        Assert.False(environ.ContainsKey("HTTP_CONTENT_TYPE"));
        Assert.False(environ.ContainsKey("HTTP_CONTENT_LENGTH"));
        Assert.False(environ.ContainsKey("HTTPS"));
        Assert.False(environ.ContainsKey("REMOTE_USER"));
    }

    [Fact]
    public async Task InMemory_TheEnvironIsTheSame()
    {
        await using var host = await PythonTestHost.StartAsync("wsgi_apps:dump");
        var environ = JsonSerializer.Deserialize<Dictionary<string, string>>(await host.Client.GetStringAsync("/caf%C3%A9/a%2Fb?q=1"))!;

        Assert.Equal("/caf\u00c3\u00a9/a/b", environ["PATH_INFO"]);
        Assert.Equal("q=1", environ["QUERY_STRING"]);
    }

    [Theory]
    [InlineData("abc", "abc")]
    [InlineData("%41%zz%4", "A%zz%4")]
    [InlineData("%e9%C3%A9", "\u00e9\u00c3\u00a9")]
    public void Unquote_IsUrllibsUnquoteToBytesThenLatin1(string raw, string expected)
    {
        Assert.Equal(expected, NativeEnviron.Unquote(raw));
    }
}
