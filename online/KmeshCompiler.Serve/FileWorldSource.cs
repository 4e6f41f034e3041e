using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.IO;
using Microsoft.Extensions.Logging;

namespace KmeshCompiler.Serve;

/// <summary>A world read from INPUT files and directories (what every kmeshc command reads), read
/// again whenever they change: a node agent fed by a configuration-management tool, and the source
/// the serve tests drive. Changes are noticed by a <see cref="FileSystemWatcher"/> and, should its
/// events be lost (network filesystems, overflow), by polling the inputs' sizes, times and inodes every
/// <c>poll</c>. After an event the source waits <c>settle</c> for a writer to finish. Every clean read
/// is a full state; a read with errors is refused (the observer's reason is the first error's
/// code), logged with its diagnostics, and changes nothing.</summary>
public sealed class FileWorldSource(IReadOnlyList<string> inputs, FrontendSettings settings, IWorldSourceObserver? observer, ILogger log,
    TimeSpan? poll = null, TimeSpan? settle = null) : IWorldSource
{
    private readonly TimeSpan _poll = poll ?? TimeSpan.FromSeconds(2);
    private readonly TimeSpan _settle = settle ?? TimeSpan.FromMilliseconds(100);

    public async IAsyncEnumerable<WorldUpdate> Updates([EnumeratorCancellation] CancellationToken ct)
    {
        var changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        var watchers = Watch(() => changed.Writer.TryWrite(true));
        try
        {
            string? seen = null;
            long revision = 0;
            while (true)
            {
                string now = Fingerprint();
                if (now != seen)
                {
                    seen = now;
                    if (Read(++revision) is { } update) yield return update;
                }
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(_poll);
                bool signalled;
                try { signalled = await changed.Reader.WaitToReadAsync(wait.Token); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { signalled = false; }
                if (signalled)
                {
                    await Task.Delay(_settle, ct);
                    while (changed.Reader.TryRead(out _)) { }
                }
            }
        }
        finally
        {
            foreach (var w in watchers) w.Dispose();
        }
    }

    private WorldUpdate? Read(long revision)
    {
        observer?.UpdateReceived();
        var result = InputLoader.Load(inputs, settings);
        var errors = result.Diagnostics.Sorted().Where(d => d.Severity == Severity.Error).ToList();
        if (result.HasErrors)
        {
            string reason = errors.FirstOrDefault()?.Code ?? "environment";
            observer?.UpdateRejected(reason);
            log.LogError(ServeEvents.Rejected, "revision {revision}: the inputs have {errors} errors and are not applied; the state in force stays: {diagnostics}",
                revision, errors.Count, string.Join("\n", errors.Take(20).Select(d => d.ToString())));
            return null;
        }
        observer?.Synced(DateTimeOffset.UtcNow);
        return new WorldUpdate(result.World, revision, FullState: true);
    }

    /// <summary>What the inputs are now, as cheap facts: every file read (the directory listing rules
    /// of the inputs), its size, modification time and inode.</summary>
    private string Fingerprint()
    {
        var sb = new StringBuilder();
        var bag = new DiagnosticBag();
        foreach (var input in inputs)
        {
            bool environment = false;
            IReadOnlyList<string> files = Directory.Exists(input) ? InputFiles.List(input, InputLoader.IsDirectoryInput, bag, ref environment) : [input];
            foreach (var f in files)
            {
                try
                {
                    var st = FileStat.Of(f);
                    sb.Append(f).Append('\0').Append(st.Size).Append('\0').Append(st.Inode).Append('\0').Append(File.GetLastWriteTimeUtc(f).Ticks).Append('\n');
                }
                catch (IOException) { sb.Append(f).Append("\0missing\n"); }
            }
        }
        return sb.ToString();
    }

    private List<FileSystemWatcher> Watch(Action changed)
    {
        var watchers = new List<FileSystemWatcher>();
        foreach (var input in inputs)
        {
            try
            {
                string full = Path.GetFullPath(input);
                var w = Directory.Exists(full)
                    ? new FileSystemWatcher(full) { IncludeSubdirectories = true }
                    : new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full));
                w.NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime;
                w.Changed += (_, _) => changed();
                w.Created += (_, _) => changed();
                w.Deleted += (_, _) => changed();
                w.Renamed += (_, _) => changed();
                w.Error += (_, _) => changed();
                w.EnableRaisingEvents = true;
                watchers.Add(w);
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
            {
                // Polling still notices changes.
                log.LogWarning(ServeEvents.Started, "cannot watch {input} ({error}); changes are noticed by polling every {pollSeconds} s", input, e.Message, _poll.TotalSeconds);
            }
        }
        return watchers;
    }
}
