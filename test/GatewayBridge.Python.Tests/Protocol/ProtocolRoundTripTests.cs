using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GatewayBridge.Python.Tests.Infrastructure;

namespace GatewayBridge.Python.Tests.Protocol;

/// <summary>
/// The worker protocol's two sides agree, frame by frame (docs/worker-protocol.md): every frame type, built by the
/// host's FrameWriter, is decoded by protocol.py into the fields this test expects, encoded again by protocol.py into
/// the very same bytes, and those bytes decoded by the host's FrameReader into the same fields. The constants (types,
/// flags, limits, version) are compared by value.
/// </summary>
public class ProtocolRoundTripTests
{
    private const string Head = "200 OK\0Content-Type\0text/plain; charset=utf-8\0X-Tag\0é";

    private static readonly string[] ScopeFields = ["GET", "http", "1.1", "/api", "/api/caf%C3%A9", "/caf%C3%A9", "q=1", "127.0.0.1", "50123", "127.0.0.1", "8080", ""];
    private static readonly (string, string)[] ScopeHeaders = [("host", "example.test"), ("x-tag", "one"), ("x-tag", "two")];
    private static readonly (string, string)[] AppHeaders = [("content-type", "text/plain"), ("set-cookie", "a=b; Path=/")];

    /// <summary>Every case: a name, the frame as the host builds it, and the fields it holds.</summary>
    public static TheoryData<string> Cases => new(AllCases.Keys);

    private static readonly Dictionary<string, (Func<byte[]> Frame, string Fields)> AllCases = new()
    {
        ["HELLO"] = (() => Frames.Bytes(FrameWriter.Hello("s3cr3t", "/tmp/shim/gatewaybridge/protocol.py")),
            $$"""{"version":{{WorkerProtocol.Version}},"secret":"s3cr3t","module":"/tmp/shim/gatewaybridge/protocol.py"}"""),
        ["READY"] = (() => Frames.Bytes(FrameWriter.Json(FrameType.Ready, """{"executable":"/usr/bin/python3","module":"/m/protocol.py","pid":42,"python":"3.11.2","version":1}"""u8)),
            """{"json":{"executable":"/usr/bin/python3","module":"/m/protocol.py","pid":42,"python":"3.11.2","version":1}}"""),
        ["FAILED"] = (() => Frames.Bytes(FrameWriter.Text(FrameType.Failed, 0, "Traceback (most recent call last):\n  ModuleNotFoundError: no ü")),
            """{"text":"Traceback (most recent call last):\n  ModuleNotFoundError: no ü"}"""),
        ["RESPONSE whole"] = (() => Frames.Bytes(FrameWriter.Response(3, FrameFlags.Head | FrameFlags.Whole | FrameFlags.End, Head, 0, "Hello"u8)),
            $$"""{"head":{{JsonSerializer.Serialize(Head)}},"total":null,"body":"Hello"}"""),
        ["RESPONSE length"] = (() => Frames.Bytes(FrameWriter.Response(4, FrameFlags.Head | FrameFlags.Length, Head, 100_000, "xyz"u8)),
            $$"""{"head":{{JsonSerializer.Serialize(Head)}},"total":100000,"body":"xyz"}"""),
        ["RESPONSE chunk"] = (() => Frames.Bytes(FrameWriter.Response(5, 0, null, 0, [0, 255, 10])),
            """{"head":null,"total":null,"body":"\u0000\u00ff\n"}"""),
        ["RESPONSE end"] = (() => Frames.Bytes(FrameWriter.Response(6, FrameFlags.End, null, 0, default)),
            """{"head":null,"total":null,"body":""}"""),
        ["FILE"] = (() => Frames.Bytes(FrameWriter.File(7, FrameFlags.Head, Head, 5, 10_000_000_000, "/srv/files/ré.bin")),
            $$"""{"head":{{JsonSerializer.Serialize(Head)}},"offset":5,"count":10000000000,"path":"/srv/files/ré.bin"}"""),
        ["FILE descriptor"] = (() => Frames.Bytes(FrameWriter.File(8, FrameFlags.Descriptor, null, 0, 12, "/proc/99/fd/7")),
            """{"head":null,"offset":0,"count":12,"path":"/proc/99/fd/7"}"""),
        ["ERROR"] = (() => Frames.Bytes(FrameWriter.Error(9, "KeyError", "'user'", "Traceback ...\nKeyError: 'user'\n")),
            """{"type":"KeyError","message":"'user'","traceback":"Traceback ...\nKeyError: 'user'\n"}"""),
        ["CLOSE_FAILED"] = (() => Frames.Bytes(FrameWriter.Text(FrameType.CloseFailed, 10, "Traceback: close")),
            """{"text":"Traceback: close"}"""),
        ["LOG record"] = (() => Frames.Bytes(FrameWriter.Log(11, LogKind.Record, 40, "app.views", "failed ü", "Traceback ...")),
            """{"kind":0,"level":40,"name":"app.views","message":"failed ü","detail":"Traceback ..."}"""),
        ["LOG line"] = (() => Frames.Bytes(FrameWriter.Log(0, LogKind.Line, 30, "", "a line of wsgi.errors", "")),
            """{"kind":1,"level":30,"name":"","message":"a line of wsgi.errors","detail":""}"""),
        ["RETIRE"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.Retire)), "{}"),
        ["GOODBYE"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.Goodbye)), "{}"),
        ["TAKEN"] = (() => Frames.Bytes(FrameWriter.Count(FrameType.Taken, 12, 65536)), """{"count":65536}"""),
        ["DONE_APP"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.DoneApp, 13)), "{}"),
        ["STARTED"] = (() => Frames.Bytes(FrameWriter.Started(13, 9_007_199_254_740_993)), """{"nanoseconds":9007199254740993}"""),
        ["FORKED"] = (() => Frames.Bytes(FrameWriter.Json(FrameType.Forked, """{"pid":4242,"secret":"s"}"""u8)), """{"json":{"pid":4242,"secret":"s"}}"""),
        ["EXITED"] = (() => Frames.Bytes(FrameWriter.Json(FrameType.Exited, """{"pid":4242,"status":137}"""u8)), """{"json":{"pid":4242,"status":137}}"""),
        ["FORK"] = (() => Frames.Bytes(FrameWriter.Json(FrameType.Fork, """{"secret":"s"}"""u8)), """{"json":{"secret":"s"}}"""),
        ["CONFIG"] = (() => Frames.Bytes(FrameWriter.Json(FrameType.Config, """{"app":"site:app","interface":"wsgi","path":["/srv/app"],"proof":"p","threads":1}"""u8)),
            """{"json":{"app":"site:app","interface":"wsgi","path":["/srv/app"],"proof":"p","threads":1}}"""),
        ["REQUEST without body"] = (() => Frames.Bytes(FrameWriter.Request(14, "REQUEST_METHOD\0GET\0PATH_INFO\0/caf\u00c3\u00a9", null, null)),
            """{"environ":"REQUEST_METHOD\u0000GET\u0000PATH_INFO\u0000/caf\u00c3\u00a9","body_kind":0,"body":null}"""),
        ["REQUEST inline"] = (() => Frames.Bytes(FrameWriter.Request(15, "REQUEST_METHOD\0POST", new MemoryStream([104, 105, 0, 255]), null)),
            """{"environ":"REQUEST_METHOD\u0000POST","body_kind":1,"body":"hi\u0000\u00ff"}"""),
        ["REQUEST traced"] = (() => Frames.Bytes(FrameWriter.Request(16, "REQUEST_METHOD\0GET", null, null, traced: true)),
            """{"environ":"REQUEST_METHOD\u0000GET","body_kind":0,"body":null}"""),
        ["REQUEST spilled"] = (() => Frames.Bytes(FrameWriter.Request(16, "REQUEST_METHOD\0PUT", null, "/tmp/ASPNETCORE_ü.tmp")),
            """{"environ":"REQUEST_METHOD\u0000PUT","body_kind":2,"body":"/tmp/ASPNETCORE_ü.tmp"}"""),
        ["CREDIT"] = (() => Frames.Bytes(FrameWriter.Count(FrameType.Credit, 17, 262144)), """{"count":262144}"""),
        ["CANCEL"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.Cancel, 18)), "{}"),
        ["DONE"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.Done, 19)), "{}"),
        ["STOP"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.Stop)), "{}"),
        ["ASGI_HTTP"] = (() => Frames.Bytes(FrameWriter.Scope(FrameType.AsgiHttp, 20, FrameFlags.Empty, ScopeFields, ScopeHeaders)),
            """{"fields":["GET","http","1.1","/api","/api/caf%C3%A9","/caf%C3%A9","q=1","127.0.0.1","50123","127.0.0.1","8080",""],"headers":[["host","example.test"],["x-tag","one"],["x-tag","two"]]}"""),
        ["ASGI_BODY"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.AsgiBody, 21, "part of a body"u8, FrameFlags.More)), """{"data":"part of a body"}"""),
        ["ASGI_DISCONNECT"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.AsgiDisconnect, 22)), "{}"),
        ["WS_CONNECT"] = (() => Frames.Bytes(FrameWriter.Scope(FrameType.WsConnect, 23, 0, [.. ScopeFields[..^1], "chat.v2, chat.v1"], [("Upgrade", "websocket")])),
            """{"fields":["GET","http","1.1","/api","/api/caf%C3%A9","/caf%C3%A9","q=1","127.0.0.1","50123","127.0.0.1","8080","chat.v2, chat.v1"],"headers":[["upgrade","websocket"]]}"""),
        ["WS_MESSAGE"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.WsMessage, 24, "héllo"u8, FrameFlags.Text)), """{"data":"h\u00c3\u00a9llo"}"""),
        ["WS_DISCONNECT"] = (() => Frames.Bytes(FrameWriter.Close(FrameType.WsDisconnect, 25, 1006)), """{"code":1006,"reason":""}"""),
        ["ASGI_START"] = (() => Frames.Bytes(FrameWriter.AsgiStart(26, 404, AppHeaders)),
            """{"status":404,"headers":[["content-type","text/plain"],["set-cookie","a=b; Path=/"]]}"""),
        ["ASGI_RESPONSE_BODY"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.AsgiResponseBody, 27, [1, 2, 3])), """{"data":"\u0001\u0002\u0003"}"""),
        ["WS_ACCEPT"] = (() => Frames.Bytes(FrameWriter.WsAccept(28, "chat.v2", AppHeaders)),
            """{"subprotocol":"chat.v2","headers":[["content-type","text/plain"],["set-cookie","a=b; Path=/"]]}"""),
        ["WS_ACCEPT without subprotocol"] = (() => Frames.Bytes(FrameWriter.WsAccept(29, null, [])), """{"subprotocol":null,"headers":[]}"""),
        ["WS_SEND"] = (() => Frames.Bytes(FrameWriter.Frame(FrameType.WsSend, 30, [0, 1])), """{"data":"\u0000\u0001"}"""),
        ["WS_CLOSE"] = (() => Frames.Bytes(FrameWriter.Close(FrameType.WsClose, 31, 4000, "going, ü")), """{"code":4000,"reason":"going, ü"}"""),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AFrameBuiltByTheHost_IsReadByPython_AsTheSameFields_AndWrittenBackAsTheSameBytes(string name)
    {
        var (build, expected) = AllCases[name];
        var frame = build();

        var answer = (await RunAsync(frame)).Single();

        var header = FrameReader.ReadHeader(frame, fromServer: WorkerProtocol.IsFromServer((FrameType)frame[4]));
        Assert.Equal((int)header.Type, answer.GetProperty("type").GetInt32());
        Assert.Equal(header.Flags, answer.GetProperty("flags").GetInt32());
        Assert.Equal(header.CallId, answer.GetProperty("id").GetUInt32());
        AssertSameJson(expected, answer.GetProperty("fields"));
        var payload = Convert.FromHexString(answer.GetProperty("payload").GetString()!);
        Assert.Equal(Convert.ToHexString(frame.AsSpan(WorkerProtocol.HeaderSize)), Convert.ToHexString(payload));

        // And the host reads what Python wrote as the same fields.
        AssertSameJson(expected, HostFields(header.Type, header.Flags, payload));
    }

    [Fact]
    public void EveryFrameType_HasARoundTripCase()
    {
        var covered = AllCases.Values.Select(c => (FrameType)c.Frame()[4]).ToHashSet();

        Assert.Equal(Enum.GetValues<FrameType>().Order(), covered.Order());
    }

    [Fact]
    public async Task TheConstants_AreTheSameOnBothSides()
    {
        var python = (await RunAsync([], "constants")).Single();

        Assert.Equal(WorkerProtocol.Version, python.GetProperty("VERSION").GetInt32());
        Assert.Equal(WorkerProtocol.MaxPayload, python.GetProperty("MAX_PAYLOAD").GetInt32());
        Assert.Equal(WorkerProtocol.Window, python.GetProperty("WINDOW").GetInt32());
        Assert.Equal(WorkerProtocol.Fragment, python.GetProperty("FRAGMENT").GetInt32());
        Assert.Equal(Enum.GetValues<FrameType>().Select(t => (int)t).Order(), python.GetProperty("TYPES").EnumerateArray().Select(e => e.GetInt32()));
        foreach (var type in Enum.GetValues<FrameType>())
        {
            Assert.Equal((int)type, python.GetProperty(Snake(type.ToString())).GetInt32());
        }

        foreach (var flag in typeof(FrameFlags).GetFields().Where(f => f.IsLiteral))
        {
            Assert.Equal(Convert.ToInt32(flag.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture), python.GetProperty(Snake(flag.Name)).GetInt32());
        }
    }

    [Fact]
    public void AFramesLayout_IsPinnedByValue()
    {
        // CREDIT of 5 bytes for call 7: length 4, type 22, flags 0, id 7, then the count.
        Assert.Equal("04000000" + "16" + "00" + "07000000" + "05000000", Convert.ToHexString(Frames.Bytes(FrameWriter.Count(FrameType.Credit, 7, 5))));

        // REQUEST for call 1: u32 environ length, the environ, body kind 1, the body.
        Assert.Equal(
            "0A000000" + "15" + "00" + "01000000" + "03000000" + Convert.ToHexString("a\0b"u8) + "01" + Convert.ToHexString("hi"u8),
            Convert.ToHexString(Frames.Bytes(FrameWriter.Request(1, "a\0b", new MemoryStream("hi"u8.ToArray()), null))));
    }

    [Fact]
    public void AFrameOverTheLimit_IsNeverBuilt_AndNeverRead()
    {
        var body = new MemoryStream(new byte[WorkerProtocol.MaxPayload]);
        Assert.Throws<InvalidOperationException>(() => Frames.Bytes(FrameWriter.Request(1, "a\0b", body, null)));

        var header = Frames.Bytes(FrameWriter.Frame(FrameType.Response, 1));
        BitConverter.TryWriteBytes(header.AsSpan(0, 4), WorkerProtocol.MaxPayload + 1);
        Assert.Throws<InvalidDataException>(() => FrameReader.ReadHeader(header, fromServer: true));
    }

    [Fact]
    public void AFrameTheOtherSideNeverSends_IsNotRead()
    {
        var fromHost = Frames.Bytes(FrameWriter.Frame(FrameType.Stop));

        Assert.Throws<InvalidDataException>(() => FrameReader.ReadHeader(fromHost, fromServer: true));
        var unknown = Frames.Bytes(FrameWriter.Frame(FrameType.Retire));
        unknown[4] = 16;
        Assert.Throws<InvalidDataException>(() => FrameReader.ReadHeader(unknown, fromServer: true));
    }

    // The fields the host's FrameReader finds, in the script's shape.
    private static JsonNode HostFields(FrameType type, byte flags, ReadOnlySpan<byte> payload)
    {
        static string Text(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);
        static JsonArray Pairs((string Name, string Value)[] headers) => [.. headers.Select(h => (JsonNode)new JsonArray(h.Name, h.Value))];
        switch (type)
        {
            case FrameType.Hello:
                var (version, secret, module) = FrameReader.ReadHello(payload);
                return new JsonObject { ["version"] = version, ["secret"] = secret, ["module"] = module };
            case FrameType.Ready or FrameType.Config or FrameType.Forked or FrameType.Exited or FrameType.Fork:
                using (var json = FrameReader.ReadJson(payload))
                {
                    return new JsonObject { ["json"] = JsonNode.Parse(json.RootElement.GetRawText()) };
                }

            case FrameType.Failed or FrameType.CloseFailed:
                return new JsonObject { ["text"] = FrameReader.ReadText(payload) };
            case FrameType.Response:
                var (head, total) = FrameReader.ReadResponse(flags, ref payload);
                return new JsonObject { ["head"] = head, ["total"] = total, ["body"] = Text(payload) };
            case FrameType.File:
                var file = FrameReader.ReadFile(flags, payload);
                return new JsonObject { ["head"] = file.Head, ["offset"] = file.Offset, ["count"] = file.Count, ["path"] = file.Path };
            case FrameType.Error:
                var error = FrameReader.ReadError(payload);
                return new JsonObject { ["type"] = error.Type, ["message"] = error.Message, ["traceback"] = error.Traceback };
            case FrameType.Log:
                var log = FrameReader.ReadLog(payload);
                return new JsonObject { ["kind"] = (int)log.Kind, ["level"] = log.Level, ["name"] = log.Name, ["message"] = log.Message, ["detail"] = log.Detail };
            case FrameType.Started:
                return new JsonObject { ["nanoseconds"] = FrameReader.ReadStarted(payload) };
            case FrameType.Taken or FrameType.Credit:
                return new JsonObject { ["count"] = FrameReader.ReadCount(payload) };
            case FrameType.Request:
                var request = FrameReader.ReadRequest(payload);
                return new JsonObject
                {
                    ["environ"] = request.Environ,
                    ["body_kind"] = (int)request.Kind,
                    ["body"] = request.Kind switch { RequestBodyKind.File => request.Path, RequestBodyKind.Inline => Text(request.Body), _ => null },
                };
            case FrameType.AsgiHttp or FrameType.WsConnect:
                var (fields, headers) = FrameReader.ReadScope(payload);
                return new JsonObject { ["fields"] = new JsonArray([.. fields.Select(f => (JsonNode)f)]), ["headers"] = Pairs(headers) };
            case FrameType.AsgiBody or FrameType.AsgiResponseBody or FrameType.WsMessage or FrameType.WsSend:
                return new JsonObject { ["data"] = Text(payload) };
            case FrameType.WsDisconnect or FrameType.WsClose:
                var (code, reason) = FrameReader.ReadClose(payload);
                return new JsonObject { ["code"] = code, ["reason"] = reason };
            case FrameType.AsgiStart:
                var (status, startHeaders) = FrameReader.ReadAsgiStart(payload);
                return new JsonObject { ["status"] = status, ["headers"] = Pairs(startHeaders) };
            case FrameType.WsAccept:
                var (subprotocol, acceptHeaders) = FrameReader.ReadWsAccept(payload);
                return new JsonObject { ["subprotocol"] = subprotocol, ["headers"] = Pairs(acceptHeaders) };
            default:
                Assert.True(payload.IsEmpty, $"{type} carries no payload");
                return new JsonObject();
        }
    }

    private static void AssertSameJson(string expected, JsonElement actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual.GetRawText())), $"expected {expected}, Python read {actual.GetRawText()}");

    private static void AssertSameJson(string expected, JsonNode actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}, the host read {actual.ToJsonString()}");

    private static string Snake(string pascal) => string.Concat(pascal.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    private static async Task<List<JsonElement>> RunAsync(byte[] frames, string? mode = null)
    {
        using var shim = new TempFolder();
        PythonShim.Write(shim.Path);
        var script = Path.Combine(AppContext.BaseDirectory, "Protocol", "protocol_roundtrip.py");
        var start = new ProcessStartInfo(PythonTestHost.Python, mode is null ? [script, shim.Path] : [script, shim.Path, mode])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.BaseStream.WriteAsync(frames);
        process.StandardInput.Close();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"protocol_roundtrip.py failed: {await error}");
        return (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
    }
}
