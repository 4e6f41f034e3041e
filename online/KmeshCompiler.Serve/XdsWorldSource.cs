using System.Runtime.CompilerServices;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Online;
using Microsoft.Extensions.Logging;

namespace KmeshCompiler.Serve;

/// <summary>The world istiod serves over Delta ADS (<see cref="XdsClient"/>): every accepted state
/// becomes a <see cref="WorldUpdate"/>, full once every subscribed type has been acknowledged.
/// Resources the client rejects were NACKed with their reason and keep their previous version; they
/// are counted as rejected updates by code.</summary>
public sealed class XdsWorldSource : IWorldSource
{
    private readonly XdsClient _client;
    private readonly ILogger _logger;

    /// <exception cref="XdsConfigurationException">A bad server address or CA file.</exception>
    public XdsWorldSource(XdsClientOptions options, IWorldSourceObserver? observer, ILogger logger)
    {
        _client = new XdsClient(options, new Relay(observer, logger));
        _logger = logger;
    }

    public async IAsyncEnumerable<WorldUpdate> Updates([EnumeratorCancellation] CancellationToken ct)
    {
        var client = _client;
        var logger = _logger;
        var run = client.RunAsync(ct);
        await foreach (var state in client.States.ReadAllAsync(ct).ConfigureAwait(false))
        {
            var bag = new DiagnosticBag();
            var world = state.ToWorld(bag);
            foreach (var d in bag.Sorted().Where(d => d.Severity >= Severity.Warning))
                logger.LogWarning("{Diagnostic}", d.ToString());
            yield return new WorldUpdate(world, state.Revision, state.InitialSyncDone);
        }
        await run.ConfigureAwait(false);
    }

    /// <summary>The client's events as the serve metrics and log lines see them.</summary>
    private sealed class Relay(IWorldSourceObserver? observer, ILogger logger) : IXdsClientObserver
    {
        public void Connecting(Uri server, int attempt) =>
            logger.LogInformation("connecting to {Server} (attempt {Attempt})", server, attempt);

        public void StreamOpened(int attempt, int initialResources) =>
            logger.LogInformation("stream open, resuming {Resources} resources", initialResources);

        public void StreamClosed(string reason, TimeSpan backoff) =>
            logger.LogWarning("stream closed: {Reason}; reconnecting in {BackoffMs} ms", reason, (long)backoff.TotalMilliseconds);

        public void ResponseApplied(string typeUrl, string nonce, int updated, int removed, IReadOnlyList<XdsRejection> rejected, XdsState state)
        {
            observer?.UpdateReceived();
            foreach (var r in rejected)
            {
                observer?.UpdateRejected(r.Code);
                logger.LogWarning("NACK {TypeUrl} {Name}: {Reason}", r.TypeUrl, r.Name, r.Reason);
            }
            if (rejected.Count == 0) observer?.Synced(DateTimeOffset.UtcNow);
        }
    }
}
