using System.Net;
using System.Text;
using System.Xml.Linq;
using GatewayBridge;
using Microsoft.Extensions.Primitives;

namespace RestDispatcher;

/// <summary>The two handlers of the recipe: a greeting and the server's local time.</summary>
public static class Handlers
{
    /// <summary>GET or POST /hello?name=X: an HTML greeting.</summary>
    public static IEnumerable<byte[]> Hello(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        var parameters = (IDictionary<string, StringValues>)environ[PathDispatcher.ParamsKey]!;
        var name = WebUtility.HtmlEncode(parameters.TryGetValue("name", out var value) ? value[0] : "stranger");
        startResponse("200 OK", [("Content-Type", "text/html; charset=utf-8")]);
        return [Encoding.UTF8.GetBytes($"<html><head><title>Hello {name}</title></head><body><h1>Hello {name}!</h1></body></html>")];
    }

    /// <summary>GET /localtime: the current local time as an XML document.</summary>
    public static IEnumerable<byte[]> LocalTime(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        var now = DateTime.Now;
        var document = new XDocument(new XElement(
            "time",
            new XElement("year", now.Year),
            new XElement("month", now.Month),
            new XElement("day", now.Day),
            new XElement("hour", now.Hour),
            new XElement("minute", now.Minute),
            new XElement("second", now.Second)));
        startResponse("200 OK", [("Content-Type", "application/xml; charset=utf-8")]);
        return [Encoding.UTF8.GetBytes(document.ToString(SaveOptions.DisableFormatting))];
    }
}

/// <summary>Small response helpers shared by the dispatcher and its handlers.</summary>
internal static class Responses
{
    public static IEnumerable<byte[]> Text(StartResponse startResponse, string status, string text)
    {
        startResponse(status, [("Content-Type", "text/plain; charset=utf-8")]);
        return [Encoding.UTF8.GetBytes(text)];
    }
}
