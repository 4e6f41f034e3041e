using System.Collections.Concurrent;

namespace KmeshCompiler.Online;

/// <summary>One resource of a response that failed validation: it was not applied, and the version
/// accepted before (if any) stays in force.</summary>
public sealed record XdsRejection(string TypeUrl, string Name, string Code, string Reason)
{
    /// <summary>As it appears in the NACK's error_detail.message: "NAME: REASON".</summary>
    public override string ToString() => $"{Name}: {Reason}";
}

/// <summary>What the client did, for logs and metrics; every method has a no-op default, and calls come
/// from the client's own task, one at a time.</summary>
public interface IXdsClientObserver
{
    void Connecting(Uri server, int attempt) { }

    void StreamOpened(int attempt, int initialResources) { }

    /// <summary>The stream ended (<paramref name="reason"/> says how) and the next attempt waits
    /// <paramref name="backoff"/>.</summary>
    void StreamClosed(string reason, TimeSpan backoff) { }

    void ResponseApplied(string typeUrl, string nonce, int updated, int removed, IReadOnlyList<XdsRejection> rejected, XdsState state) { }
}

/// <summary>Counters the serve loop turns into metrics; read them at any time (they only grow, except
/// <see cref="Connected"/>, <see cref="LastSuccessfulSync"/> and <see cref="LastError"/>).</summary>
public sealed class XdsClientStats
{
    private long _responses, _updated, _removed, _acks, _nacks, _reconnects, _streams;
    private long _lastSync = long.MinValue;
    private volatile string? _lastError;
    private volatile bool _connected;

    public long ResponsesReceived => Interlocked.Read(ref _responses);

    public long ResourcesUpdated => Interlocked.Read(ref _updated);

    public long ResourcesRemoved => Interlocked.Read(ref _removed);

    public long Acks => Interlocked.Read(ref _acks);

    public long Nacks => Interlocked.Read(ref _nacks);

    /// <summary>Rejected resources by reason: the diagnostic code (KM5007, ...) of the first error.</summary>
    public IReadOnlyDictionary<string, long> RejectionsByReason => _byReason.ToDictionary(k => k.Key, k => Interlocked.Read(ref k.Value.Count), StringComparer.Ordinal);

    /// <summary>Streams opened after the first.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    public long StreamsOpened => Interlocked.Read(ref _streams);

    public bool Connected => _connected;

    /// <summary>When a response was last ACKed (every resource accepted); null before the first.</summary>
    public DateTimeOffset? LastSuccessfulSync
    {
        get
        {
            long t = Interlocked.Read(ref _lastSync);
            return t == long.MinValue ? null : new DateTimeOffset(t, TimeSpan.Zero);
        }
    }

    /// <summary>Why the last stream or connection attempt failed; null while none has.</summary>
    public string? LastError => _lastError;

    private sealed class Box { public long Count; }

    private readonly ConcurrentDictionary<string, Box> _byReason = new(StringComparer.Ordinal);

    internal void Response(int updated, int removed)
    {
        Interlocked.Increment(ref _responses);
        Interlocked.Add(ref _updated, updated);
        Interlocked.Add(ref _removed, removed);
    }

    internal void Ack(DateTimeOffset now)
    {
        Interlocked.Increment(ref _acks);
        Interlocked.Exchange(ref _lastSync, now.UtcTicks);
    }

    internal void Nack(IEnumerable<XdsRejection> rejected)
    {
        Interlocked.Increment(ref _nacks);
        foreach (var r in rejected) Interlocked.Increment(ref _byReason.GetOrAdd(r.Code, _ => new Box()).Count);
    }

    internal void Opened()
    {
        if (Interlocked.Increment(ref _streams) > 1) Interlocked.Increment(ref _reconnects);
        _connected = true;
    }

    internal void Closed(string? error)
    {
        _connected = false;
        if (error is not null) _lastError = error;
    }
}
