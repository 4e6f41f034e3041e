using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Ir;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Lowering;
using Microsoft.Extensions.Logging;

namespace KmeshCompiler.Serve;

/// <summary>How <see cref="ServeLoop"/> runs. <see cref="Quiet"/>: a burst of updates is coalesced
/// until none has arrived for this long (latest state wins), but never held longer than
/// <see cref="MaxDelay"/> after its first update. A publish the loader refuses (busy lock, kernel
/// error) is retried after <see cref="RetryFirst"/>, doubling up to <see cref="RetryMax"/>, unless a
/// newer state comes first. The loop is reported wedged (/healthz) when one state has been in hand
/// longer than <see cref="WedgedAfter"/>.</summary>
public sealed record ServeOptions(string Node, string PinDir)
{
    public TimeSpan Quiet { get; init; } = TimeSpan.FromMilliseconds(5);
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan LockWait { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan RetryFirst { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan WedgedAfter { get; init; } = TimeSpan.FromMinutes(2);
    public LoweringLimits? Limits { get; init; }
}

/// <summary>What became of a state: put in force, already in force (the image equals the live
/// one), not compiled (the previous image stays), not published (retried), or not full (the source
/// had not finished its initial sync: nothing is published).</summary>
public enum StateOutcome { Published, Unchanged, CompileFailed, PublishFailed, Partial }

/// <summary>One handled state: its revision, what became of it, the generation in force after it,
/// the compile and publish times, and how many updates it stood for (a coalesced burst).</summary>
public sealed record HandledState(long Revision, StateOutcome Outcome, ulong Generation, TimeSpan Compile, TimeSpan Publish, int Coalesced)
{
    /// <summary>From the arrival of the update to the switch that put its state in force (published states only).</summary>
    public TimeSpan? ToLive { get; init; }
}

/// <summary>A probe's answer: ok or not, and why, in words.</summary>
public sealed record ProbeResult(bool Ok, string Reason);

/// <summary>The online compiler's loop (docs/serve.md): takes the states of an
/// <see cref="IWorldSource"/>, coalesces bursts, compiles the node's image exactly as
/// <c>kmeshc compile</c> does (<see cref="IncrementalLowerer"/>: the same image, reusing what did not
/// change), and puts it in force through the loader
/// (<see cref="NodeLoader"/>: atomic, crash-safe, only the rows that differ). A state whose image fails
/// to compile is logged with its diagnostics and changes nothing live. On cancellation an in-flight
/// compile is abandoned, a publish that has started is finished (the loader guarantees old-or-new
/// anyway), and the last image stays in force; a later run resumes from the pins.</summary>
public sealed class ServeLoop
{
    private readonly IWorldSource _source;
    private readonly ServeOptions _options;
    private readonly ServeMetrics _metrics;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private readonly List<(long Revision, TaskCompletionSource<HandledState> Done)> _waiters = [];
    private LiveHead? _live;
    private bool _synced;
    private bool _stopped;
    private bool _readyLogged;
    private long _busySince;
    private long _busyRevision;
    private HandledState? _last;
    private readonly IncrementalLowerer _compiler;
    private readonly SlotMemory _slots = new();

    public ServeLoop(IWorldSource source, ServeOptions options, ServeMetrics metrics, ILogger log)
    {
        _source = source;
        _options = options;
        _metrics = metrics;
        _log = log;
        _compiler = new IncrementalLowerer(options.Node, options.Limits);
        _metrics.CountersFrom(ReadCounters);
    }

    public string PinDir => Path.GetFullPath(_options.PinDir);

    /// <summary>The last state handled, or null.</summary>
    public HandledState? Last { get { lock (_gate) return _last; } }

    /// <summary>The generation in force as this loop knows it (resumed from the pins or published).</summary>
    public LiveHead? Live { get { lock (_gate) return _live; } }

    /// <summary>/healthz: the loop is running and not stuck on one state.</summary>
    public ProbeResult Health()
    {
        lock (_gate)
        {
            if (_stopped) return new(false, "the loop has stopped");
            if (_busySince != 0)
            {
                var busy = Stopwatch.GetElapsedTime(_busySince);
                if (busy > _options.WedgedAfter)
                    return new(false, string.Create(CultureInfo.InvariantCulture, $"revision {_busyRevision} has been in hand for {busy.TotalSeconds:0} s"));
            }
            return new(true, "ok");
        }
    }

    /// <summary>/readyz: a full state of the source has been handled and an image is in force (the
    /// one just published, or after a restart the one the pins kept).</summary>
    public ProbeResult Readiness()
    {
        lock (_gate) return ReadinessLocked();
    }

    private ProbeResult ReadinessLocked()
    {
        if (!_synced) return new(false, _live is null ? "waiting for the first full state from the source" : $"generation {_live.Generation} in force (resumed); waiting for the source to sync");
        if (_live is null) return new(false, "no image is in force: the source's state has not been published (see the log)");
        return new(true, $"generation {_live.Generation} in force");
    }

    /// <summary>Completes when a state of revision <paramref name="revision"/> or later has been
    /// handled (a coalesced burst counts for every revision in it).</summary>
    public Task<HandledState> WhenHandled(long revision)
    {
        lock (_gate)
        {
            if (_last is { } l && l.Revision >= revision) return Task.FromResult(l);
            var done = new TaskCompletionSource<HandledState>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((revision, done));
            return done.Task;
        }
    }

    private sealed record Arrived(WorldUpdate Update, long At);

    private sealed record Pending(ImageFile Image, string Hash, WorldUpdate Update, long At, int Coalesced, TimeSpan Compile, int Attempt);

    /// <summary>Runs until <paramref name="ct"/> is cancelled (returns normally) or the source fails
    /// (throws its exception). The image in force stays in force either way.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        Resume();
        var channel = Channel.CreateUnbounded<Arrived>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var pumpStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pump = Task.Run(() => Pump(channel.Writer, pumpStop.Token), CancellationToken.None);
        Pending? retry = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (retry is not null)
                {
                    var delay = Backoff(retry.Attempt);
                    if (!await WaitToRead(channel.Reader, delay, ct))
                    {
                        retry = await Publish(retry with { Attempt = retry.Attempt + 1 });
                        continue;
                    }
                    if (!channel.Reader.TryPeek(out _)) break;
                }
                else if (!await channel.Reader.WaitToReadAsync(ct)) break;
                var (latest, count) = await Coalesce(channel.Reader, ct);
                retry = await Handle(latest, count, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            pumpStop.Cancel();
            try { await pump; } catch (OperationCanceledException) { }
            lock (_gate) { _stopped = true; _busySince = 0; }
        }
        // A source that failed: its exception ends the loop.
        if (channel.Reader.Completion.IsFaulted) await channel.Reader.Completion;
    }

    private async Task Pump(ChannelWriter<Arrived> writer, CancellationToken ct)
    {
        try
        {
            await foreach (var u in _source.Updates(ct).WithCancellation(ct))
                writer.TryWrite(new Arrived(u, Stopwatch.GetTimestamp()));
            writer.TryComplete();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            writer.TryComplete();
        }
        catch (Exception e)
        {
            _log.LogError(ServeEvents.SourceFailed, "the source failed: {error}", e.Message);
            writer.TryComplete(e);
        }
    }

    private TimeSpan Backoff(int attempt) =>
        TimeSpan.FromTicks(Math.Min(_options.RetryMax.Ticks, _options.RetryFirst.Ticks << Math.Min(attempt, 20)));

    /// <summary>Waits up to <paramref name="timeout"/> for an update: true when one can be read or the
    /// source has ended, false when the time passed first.</summary>
    private static async Task<bool> WaitToRead(ChannelReader<Arrived> reader, TimeSpan timeout, CancellationToken ct)
    {
        if (timeout <= TimeSpan.Zero) return reader.TryPeek(out _) || reader.Completion.IsCompleted;
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(timeout);
        try
        {
            await reader.WaitToReadAsync(wait.Token);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Takes every update that arrives until the quiet window passes without one (or the
    /// burst has lasted <see cref="ServeOptions.MaxDelay"/>): the latest state and how many it stands for.</summary>
    private async Task<(Arrived Latest, int Count)> Coalesce(ChannelReader<Arrived> reader, CancellationToken ct)
    {
        long first = Stopwatch.GetTimestamp();
        Arrived? latest = null;
        int count = 0;
        while (true)
        {
            while (reader.TryRead(out var a)) { latest = a; count++; }
            if (latest is null) throw new InvalidOperationException("coalescing started without an update");
            long deadline = Math.Min(latest.At + Ticks(_options.Quiet), first + Ticks(_options.MaxDelay));
            long now = Stopwatch.GetTimestamp();
            if (now >= deadline || reader.Completion.IsCompleted) break;
            if (!await WaitToRead(reader, Stopwatch.GetElapsedTime(now, deadline), ct)) break;
        }
        return (latest, count);
    }

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private async Task<Pending?> Handle(Arrived arrived, int count, CancellationToken ct)
    {
        var u = arrived.Update;
        if (!u.FullState)
        {
            _log.LogInformation(ServeEvents.Partial, "revision {revision}: the source has not finished its initial sync; nothing is published", u.Revision);
            Done(new HandledState(u.Revision, StateOutcome.Partial, _live?.Generation ?? 0, TimeSpan.Zero, TimeSpan.Zero, count));
            return null;
        }
        lock (_gate) { _busySince = Stopwatch.GetTimestamp(); _busyRevision = u.Revision; }
        try
        {
            var clock = Stopwatch.StartNew();
            (ImageFile? Image, string? Hash, DiagnosticBag Bag) compiled;
            try
            {
                // Abandoned, not awaited, on cancellation: nothing has been written yet.
                compiled = await Task.Run(() => Compile(u.World), CancellationToken.None).WaitAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                _log.LogInformation(ServeEvents.Abandoned, "revision {revision}: compile abandoned on stop; the image in force stays", u.Revision);
                throw;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                compiled = (null, null, new DiagnosticBag());
                _log.LogError(ServeEvents.CompileFailed, e, "revision {revision}: the compiler failed: {error}", u.Revision, e.Message);
            }
            var compile = clock.Elapsed;
            _metrics.Compiled(compile);
            if (compiled.Image is not { } image || compiled.Hash is not { } hash || compiled.Bag.HasErrors)
            {
                var errors = compiled.Bag.Sorted().Where(d => d.Severity == Severity.Error).ToList();
                _metrics.CompileFailed();
                if (errors.Count > 0)
                    _log.LogError(ServeEvents.CompileFailed, "revision {revision}: the image does not compile ({errors} errors); the previous image stays in force: {diagnostics}",
                        u.Revision, errors.Count, string.Join("\n", errors.Take(20).Select(d => d.ToString())));
                lock (_gate) _synced = true;
                Done(new HandledState(u.Revision, StateOutcome.CompileFailed, _live?.Generation ?? 0, compile, TimeSpan.Zero, count));
                return null;
            }
            return await Publish(new Pending(image, hash, u, arrived.At, count, compile, 0));
        }
        finally
        {
            lock (_gate) _busySince = 0;
        }
    }

    /// <summary>The image and its content hash (what the loader compares with the image in force).</summary>
    private (ImageFile?, string?, DiagnosticBag) Compile(World world)
    {
        var bag = new DiagnosticBag();
        var image = _compiler.Lower(world, bag);
        return (image, image is null || bag.HasErrors ? null : image.ContentHash(), bag);
    }

    /// <summary>Puts a compiled image in force. Never cancelled: once started, a publish finishes.
    /// Returns the image to retry when the loader refused it, else null.</summary>
    private async Task<Pending?> Publish(Pending p)
    {
        long start = Stopwatch.GetTimestamp();
        PublishReport report;
        try
        {
            report = await Task.Run(() =>
            {
                using var loader = NodeLoader.Open(_options.PinDir, _options.LockWait, create: true);
                return loader.Load(p.Image, p.Hash, _slots);
            }, CancellationToken.None);
        }
        catch (Exception e) when (e is LoaderException or BpfException or IOException or UnauthorizedAccessException)
        {
            _metrics.PublishFailed();
            var next = Backoff(p.Attempt);
            _log.LogError(ServeEvents.PublishFailed, "revision {revision}: the loader did not put the image in force: {error}; the previous image stays, retrying in {retrySeconds} s",
                p.Update.Revision, e.Message, next.TotalSeconds);
            Done(new HandledState(p.Update.Revision, StateOutcome.PublishFailed, _live?.Generation ?? 0, p.Compile, Stopwatch.GetElapsedTime(start), p.Coalesced));
            return p;
        }
        var publish = Stopwatch.GetElapsedTime(start);
        // The switch happened (Total - Live) before the loader returned: the wait for readers of the old slot.
        TimeSpan? toLive = report.Changed ? Stopwatch.GetElapsedTime(p.At) - (report.Total - report.Live) : null;
        lock (_gate)
        {
            _live = new LiveHead(report.Generation, report.Slot, p.Hash);
            _synced = true;
        }
        _metrics.Published(publish, toLive, report.Generation, report.Changed);
        if (report.Changed)
            _log.LogInformation(ServeEvents.Published,
                "revision {revision}: generation {generation} in force; compile {compileMs} ms, publish {publishMs} ms, update to live {toLiveMs} ms, {tablesWritten} tables written, {coalesced} updates coalesced",
                p.Update.Revision, report.Generation, Ms(p.Compile), Ms(publish), Ms(toLive!.Value), report.Tables.Count(t => t.Written), p.Coalesced);
        else
            _log.LogInformation(ServeEvents.Unchanged, "revision {revision}: the image equals generation {generation} in force; nothing written", p.Update.Revision, report.Generation);
        Done(new HandledState(p.Update.Revision, report.Changed ? StateOutcome.Published : StateOutcome.Unchanged, report.Generation, p.Compile, publish, p.Coalesced) { ToLive = toLive });
        return null;
    }

    private static double Ms(TimeSpan t) => Math.Round(t.TotalMilliseconds, 1);

    private void Done(HandledState h)
    {
        List<TaskCompletionSource<HandledState>> done;
        ProbeResult? becameReady = null;
        lock (_gate)
        {
            _last = h;
            done = [.. _waiters.Where(w => w.Revision <= h.Revision).Select(w => w.Done)];
            _waiters.RemoveAll(w => w.Revision <= h.Revision);
            var ready = ReadinessLocked();
            if (ready.Ok && !_readyLogged) { _readyLogged = true; becameReady = ready; }
        }
        if (becameReady is not null)
        {
            _metrics.Ready(true);
            _log.LogInformation(ServeEvents.Ready, "ready: {reason}", becameReady.Reason);
        }
        foreach (var d in done) d.TrySetResult(h);
    }

    /// <summary>Reads the generation in force from the pins, if any: it stays in force until the
    /// source's first full state replaces it (no gap in enforcement across a restart).</summary>
    private void Resume()
    {
        string dir = PinDir;
        _log.LogInformation(ServeEvents.Started, "serving node {node} into {pinDir}", _options.Node, dir);
        if (!Directory.Exists(dir)) return;
        try
        {
            using var objects = NodeObjects.OpenPinned(dir);
            var head = LiveImage.Head(objects);
            lock (_gate) _live = head;
            if (head is null) return;
            _metrics.Generation(head.Generation);
            _log.LogInformation(ServeEvents.Resumed, "generation {generation} (image {contentHash}) is in force from the pins and stays until the source's first full state is published",
                head.Generation, head.ContentHash[..16]);
        }
        catch (Exception e) when (e is LoaderException or BpfException or IOException)
        {
            _log.LogWarning(ServeEvents.Resumed, "the pins in {pinDir} cannot be read: {error}", dir, e.Message);
        }
    }

    private NodeCounters? ReadCounters()
    {
        string dir = PinDir;
        if (!Directory.Exists(dir)) return null;
        using var objects = NodeObjects.OpenPinned(dir);
        return NodeCounters.Read(objects);
    }
}
