using System.ComponentModel;

namespace GatewayBridge.Python;

/// <summary>The 0.1 name of <see cref="PythonOptions"/>, kept for one release: every property is the same option.</summary>
[Obsolete("Use PythonOptions (services.AddPython): the options configure Python apps of both interfaces. PythonWsgiOptions is removed in 0.3.")]
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class PythonWsgiOptions
{
    /// <summary>Creates options with the defaults of <see cref="PythonOptions"/>.</summary>
    public PythonWsgiOptions()
        : this(new PythonOptions())
    {
    }

    internal PythonWsgiOptions(PythonOptions options)
    {
        Options = options;
    }

    internal PythonOptions Options { get; }

    /// <inheritdoc cref="PythonOptions.Python"/>
    public string Python { get => Options.Python; set => Options.Python = value; }

    /// <inheritdoc cref="PythonOptions.PythonPath"/>
    public IList<string> PythonPath => Options.PythonPath;

    /// <inheritdoc cref="PythonOptions.Workers"/>
    public int Workers { get => Options.Workers; set => Options.Workers = value; }

    /// <inheritdoc cref="PythonOptions.Threads"/>
    public int? Threads { get => Options.Threads; set => Options.Threads = value; }

    /// <inheritdoc cref="PythonOptions.Timeout"/>
    public TimeSpan? Timeout { get => Options.Timeout; set => Options.Timeout = value; }

    /// <inheritdoc cref="PythonOptions.MaxRequests"/>
    public int MaxRequests { get => Options.MaxRequests; set => Options.MaxRequests = value; }

    /// <inheritdoc cref="PythonOptions.MaxRequestsJitter"/>
    public int MaxRequestsJitter { get => Options.MaxRequestsJitter; set => Options.MaxRequestsJitter = value; }

    /// <inheritdoc cref="PythonOptions.MaxWorkerMemory"/>
    public long? MaxWorkerMemory { get => Options.MaxWorkerMemory; set => Options.MaxWorkerMemory = value; }

    /// <inheritdoc cref="PythonOptions.GracefulTimeout"/>
    public TimeSpan GracefulTimeout { get => Options.GracefulTimeout; set => Options.GracefulTimeout = value; }
}
