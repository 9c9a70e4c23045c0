namespace GatewayBridge.Python;

/// <summary>
/// Options for the process's embedded Python interpreter and the threads that run Python WSGI apps.
/// </summary>
public sealed class PythonWsgiOptions
{
    /// <summary>
    /// The <c>python3</c> executable of the installation or virtual environment to embed: a name looked up on
    /// <c>PATH</c>, or a path (a relative one is taken against the content root). Its shared library, prefix and
    /// <c>sys.path</c> are read from it. The default value is <c>python3</c>.
    /// </summary>
    public string Python { get; set; } = "python3";

    /// <summary>
    /// Folders put first on <c>sys.path</c>, such as the folder that holds the app's modules; relative ones are taken
    /// against the content root. The default value is an empty list.
    /// </summary>
    public IList<string> PythonPath { get; } = new List<string>();

    /// <summary>
    /// The Python threads that run app code. A WSGI app blocks (a database call, <c>time.sleep</c>, a file), and
    /// calls overlap up to this many; each thread keeps its Python thread state for its whole life.
    /// The default value is 8.
    /// </summary>
    public int Threads { get; set; } = 8;
}
