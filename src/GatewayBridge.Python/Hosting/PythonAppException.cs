namespace GatewayBridge.Python;

/// <summary>
/// An exception raised by Python code (a WSGI app, or a logging record's <c>exc_info</c>), carried into .NET with its
/// Python traceback, which <see cref="ToString"/> shows.
/// </summary>
public sealed class PythonAppException : Exception
{
    /// <summary>Creates the exception for a Python exception.</summary>
    /// <param name="pythonType">The Python exception's type name, such as <c>KeyError</c>.</param>
    /// <param name="message">The Python exception's <c>str()</c>.</param>
    /// <param name="pythonTraceback">The traceback as Python formats it.</param>
    public PythonAppException(string pythonType, string message, string pythonTraceback)
        : base(string.IsNullOrEmpty(message) ? pythonType : $"{pythonType}: {message}")
    {
        PythonType = pythonType;
        PythonTraceback = pythonTraceback;
    }

    /// <summary>Creates the exception with no Python detail.</summary>
    public PythonAppException()
        : this("Exception", "", "")
    {
    }

    /// <summary>Creates the exception with no Python detail.</summary>
    /// <param name="message">The message.</param>
    public PythonAppException(string message)
        : this("Exception", message, "")
    {
    }

    /// <summary>Creates the exception with no Python detail.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public PythonAppException(string message, Exception innerException)
        : base(message, innerException)
    {
        PythonType = "Exception";
        PythonTraceback = "";
    }

    /// <summary>The Python exception's type name, such as <c>KeyError</c>.</summary>
    public string PythonType { get; }

    /// <summary>The Python traceback, as <c>traceback.format_exception</c> gives it.</summary>
    public string PythonTraceback { get; }

    /// <summary>The Python traceback, which says more than a .NET stack that ends where Python was called.</summary>
    /// <returns>The traceback, or the message when there is none.</returns>
    public override string ToString() => PythonTraceback.Length > 0 ? PythonTraceback.TrimEnd() : base.ToString();

}
