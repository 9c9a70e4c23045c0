using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.TestSupport;

public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

/// <summary>Keeps every log event so tests can assert what reached ILogger.</summary>
public sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new ListLogger(categoryName, _entries);

    public void Dispose()
    {
    }

    /// <summary>
    /// Log events arrive from request threads after the response: waits until <paramref name="count"/> of them match,
    /// and returns those that do; fails if they never come.
    /// </summary>
    public async Task<IReadOnlyList<LogEntry>> WaitForAsync(Func<LogEntry, bool> match, int count = 1) =>
        await Eventually.ReturnsAsync(
            () => Task.FromResult(Entries.Where(match).ToList()),
            found => found.Count >= count,
            $"{count} matching log event(s) among {Entries.Count}");

    private sealed class ListLogger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception));
    }
}
