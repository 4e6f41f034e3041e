using KmeshCompiler.Ir;

namespace KmeshCompiler.Serve;

/// <summary>One state of the world as a source knows it. <paramref name="Revision"/> increases with
/// every update of one source (it names the state in logs and lets callers wait for it);
/// <paramref name="FullState"/> is true once the source's initial sync is complete, so the world holds
/// everything the origin has. A state that is not full is never put in force: publishing a partial
/// world would drop the policies not yet received.</summary>
public sealed record WorldUpdate(World World, long Revision, bool FullState);

/// <summary>Where the node's world comes from: the xDS client (Delta ADS from istiod) or input files
/// (<see cref="FileWorldSource"/>). The stream yields every accepted state, newest last; a source
/// that refuses an update (an xDS NACK, an input with errors) yields nothing for it and tells its
/// <see cref="IWorldSourceObserver"/>. The stream ends only when the source cannot go on (it throws
/// then) or <paramref name="ct"/> is cancelled.</summary>
public interface IWorldSource
{
    IAsyncEnumerable<WorldUpdate> Updates(CancellationToken ct);
}

/// <summary>What a source reports about its origin, for the metrics of <c>kmeshc serve</c>. A source
/// is given one when it is made (<see cref="ServeMetrics"/> is one) and calls it from any thread.</summary>
public interface IWorldSourceObserver
{
    /// <summary>An update arrived from the origin (an xDS response, a changed input), before it is
    /// checked.</summary>
    void UpdateReceived();

    /// <summary>An update was refused (NACKed) and changed nothing. <paramref name="reason"/> is a
    /// short stable category, used as a metric label (a diagnostic code such as <c>KM3001</c>, or
    /// <c>decode</c>), never a free-text message; the message goes to the log.</summary>
    void UpdateRejected(string reason);

    /// <summary>The source was in sync with its origin at <paramref name="at"/> (a response accepted
    /// and acknowledged, an input read cleanly).</summary>
    void Synced(DateTimeOffset at);
}
