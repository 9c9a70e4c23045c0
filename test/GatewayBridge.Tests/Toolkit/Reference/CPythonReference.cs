using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GatewayBridge.Tests.Reference;

/// <summary>
/// CPython (Debian's /usr/bin/python3) as the reference: one child process answers a batch of requests
/// (wsgiref_reference.py), one JSON line each way.
/// </summary>
public static class CPythonReference
{
    public static async Task<List<JsonNode?>> AskAsync(IReadOnlyList<JsonObject> requests)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Toolkit", "Reference", "wsgiref_reference.py");
        using var python = Process.Start(new ProcessStartInfo("/usr/bin/python3", [script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var errors = python.StandardError.ReadToEndAsync();
        var writing = Task.Run(async () =>
        {
            foreach (var request in requests)
            {
                await python.StandardInput.WriteLineAsync(request.ToJsonString());
            }

            python.StandardInput.Close();
        });
        var answers = new List<JsonNode?>(requests.Count);
        while (await python.StandardOutput.ReadLineAsync() is { } line)
        {
            answers.Add(JsonNode.Parse(line));
        }

        await writing;
        await python.WaitForExitAsync();
        Assert.True(answers.Count == requests.Count, $"python3 answered {answers.Count} of {requests.Count}: {await errors}");
        return answers;
    }

    /// <summary>The seed of a generated run: GATEWAYBRIDGE_SEED to replay one, else fixed so CI runs are repeatable.</summary>
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("GATEWAYBRIDGE_SEED"), out var seed) ? seed : 20261130;

    public static string Show(JsonNode? node) => node?.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) ?? "null";
}
