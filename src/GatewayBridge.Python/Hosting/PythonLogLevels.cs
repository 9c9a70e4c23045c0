using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>Python's logging levels (DEBUG 10 ... CRITICAL 50) and ASP.NET Core's, mapped both ways.</summary>
internal static class PythonLogLevels
{
    public static LogLevel FromPython(int level) => level switch
    {
        < 10 => LogLevel.Trace,
        < 20 => LogLevel.Debug,
        < 30 => LogLevel.Information,
        < 40 => LogLevel.Warning,
        < 50 => LogLevel.Error,
        _ => LogLevel.Critical,
    };

    /// <summary>The lowest Python level that <paramref name="level"/> lets through (1, not 0: 0 means "inherit" in Python).</summary>
    public static int ToPython(LogLevel level) => level switch
    {
        LogLevel.Trace => 1,
        LogLevel.Debug => 10,
        LogLevel.Information => 20,
        LogLevel.Warning => 30,
        LogLevel.Error => 40,
        LogLevel.Critical => 50,
        _ => 60,
    };

    /// <summary>The lowest level a logger factory lets through for an ordinary category.</summary>
    public static LogLevel Lowest(ILoggerFactory loggers)
    {
        var probe = loggers.CreateLogger("root");
        for (var level = LogLevel.Trace; level < LogLevel.None; level++)
        {
            if (probe.IsEnabled(level))
            {
                return level;
            }
        }

        return LogLevel.None;
    }
}
