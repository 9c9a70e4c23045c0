using System.IO.Enumeration;
using Microsoft.Extensions.Logging;

namespace GatewayBridge.Python;

/// <summary>
/// Watches the app's folders for <see cref="PythonOptions.Reload"/>: a change to a <c>*.py</c> file (or one matching
/// <see cref="PythonOptions.ReloadIncludes"/>) calls back once the folders have been quiet for a moment, so that an
/// editor's burst of writes (a save, a formatter, a branch switch) reloads once.
/// </summary>
internal sealed class SourceWatcher : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly string[] _patterns;
    private readonly Func<string, Task> _changed;
    private readonly ILogger _logger;
    private readonly Timer _timer;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _one = new(1, 1);
    private string? _last;

    public SourceWatcher(IEnumerable<string> folders, IEnumerable<string> includes, Func<string, Task> changed, ILogger logger)
    {
        _patterns = ["*.py", .. includes];
        _changed = changed;
        _logger = logger;
        _timer = new Timer(_ => _ = FireAsync());
        foreach (var folder in folders.Distinct(StringComparer.Ordinal).Where(Directory.Exists))
        {
            var watcher = new FileSystemWatcher(folder)
            {
                IncludeSubdirectories = true,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
            };
            watcher.Changed += (_, e) => OnChange(folder, e.FullPath);
            watcher.Created += (_, e) => OnChange(folder, e.FullPath);
            watcher.Deleted += (_, e) => OnChange(folder, e.FullPath);
            watcher.Renamed += (_, e) => OnChange(folder, e.FullPath);
            watcher.Error += (_, e) => _logger.ReloadWatchFailed(folder, e.GetException().Message);
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
    }

    private void OnChange(string folder, string path)
    {
        var name = Path.GetFileName(path);
        if (!_patterns.Any(p => FileSystemName.MatchesSimpleExpression(p, name)) || Ignored(Path.GetRelativePath(folder, path)))
        {
            return;
        }

        lock (_lock)
        {
            _last = path;
            _timer.Change(Quiet, Timeout.InfiniteTimeSpan);
        }
    }

    // What is not the app's own code, as uvicorn's reloader leaves it out: compiled files, hidden folders (.git, .venv),
    // installed packages; below the watched folder only, which may itself be anywhere.
    internal static bool Ignored(string relative) =>
        relative.Split(Path.DirectorySeparatorChar).Any(segment =>
            segment is "__pycache__" or "site-packages" or "node_modules" || (segment.Length > 1 && segment[0] == '.'));

    // One reload at a time: changes made during one reload again once it is done.
    private async Task FireAsync()
    {
        await _one.WaitAsync().ConfigureAwait(false);
        try
        {
            string? path;
            lock (_lock)
            {
                (path, _last) = (_last, null);
            }

            if (path is not null)
            {
                await _changed(path).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            _logger.ReloadFailed("the app", ex.Message);
        }
        finally
        {
            _one.Release();
        }
    }

    public void Dispose()
    {
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        // The semaphore is left to the collector (it never made a wait handle): a reload running now still releases it.
        _timer.Dispose();
    }
}
