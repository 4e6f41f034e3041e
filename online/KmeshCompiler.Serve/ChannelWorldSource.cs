using System.Runtime.CompilerServices;
using System.Threading.Channels;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Serve;

/// <summary>A world source fed by its owner: every <see cref="Push"/> is one state, numbered in
/// order. An adapter that receives states by callbacks (an xDS client), the tests and the benchmarks
/// use it; it reports to its observer as a real source does.</summary>
public sealed class ChannelWorldSource(IWorldSourceObserver? observer = null) : IWorldSource
{
    private readonly Channel<WorldUpdate> _updates = Channel.CreateUnbounded<WorldUpdate>(new UnboundedChannelOptions { SingleReader = true });
    private long _revision;

    /// <summary>Queues a state (<paramref name="full"/>: the initial sync is complete) and returns its revision.</summary>
    public long Push(World world, bool full = true)
    {
        long revision = Interlocked.Increment(ref _revision);
        observer?.UpdateReceived();
        if (full) observer?.Synced(DateTimeOffset.UtcNow);
        _updates.Writer.TryWrite(new WorldUpdate(world, revision, full));
        return revision;
    }

    /// <summary>Ends the stream with an error, as a source that cannot go on does.</summary>
    public void Fail(Exception error) => _updates.Writer.TryComplete(error);

    public async IAsyncEnumerable<WorldUpdate> Updates([EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var u in _updates.Reader.ReadAllAsync(ct)) yield return u;
    }
}
