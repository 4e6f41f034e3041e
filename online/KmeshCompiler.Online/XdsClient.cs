using System.Collections.Immutable;
using System.Diagnostics;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Online.Wire;
using Core = KmeshCompiler.Frontends.Xds.Wire.Core;
using Disc = KmeshCompiler.Frontends.Xds.Wire.Discovery;
using Rpc = KmeshCompiler.Frontends.Xds.Wire.Rpc;

namespace KmeshCompiler.Online;

/// <summary>A Delta ADS client (xds.md, "The envelope"; docs/xds.md, "The client"): one stream of
/// DeltaAggregatedResources, a wildcard subscription to each type of
/// <see cref="XdsClientOptions.TypeUrls"/>, every resource decoded by the one decoder and checked
/// alone. A response whose resources all pass is applied and ACKed; one with resources that fail
/// validation is applied without them (their previous versions, if any, stay in force) and NACKed with
/// "NAME: REASON; ..." in error_detail, as ztunnel does. After each applied response that changes
/// something, a new immutable <see cref="XdsState"/> is published. A stream that ends is opened again
/// after a jittered exponential backoff, resuming with initial_resource_versions.</summary>
public sealed class XdsClient
{
    /// <summary>google.rpc.Code INVALID_ARGUMENT, the code of a NACK's error_detail.</summary>
    public const int NackCode = 3;

    private readonly XdsClientOptions _options;
    private readonly IXdsClientObserver _observer;
    private readonly XdsTransport _transport;
    private readonly XdsResourceDecoder _decoder;
    private readonly Channel<XdsState> _states = Channel.CreateBounded<XdsState>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true });
    private readonly HashSet<string> _acked = new(StringComparer.Ordinal);
    private volatile XdsState _state = XdsState.Empty;
    private int _running;

    /// <exception cref="XdsConfigurationException">The server URL or the CA file is unusable.</exception>
    public XdsClient(XdsClientOptions options, IXdsClientObserver? observer = null)
    {
        _options = options;
        _observer = observer ?? new NoObserver();
        _transport = new XdsTransport(options);
        _decoder = new XdsResourceDecoder(options.SourceName);
    }

    /// <summary>The state in force now.</summary>
    public XdsState Current => _state;

    /// <summary>New states as they are applied. Only the newest state not yet read is kept: a slow
    /// reader skips intermediate states (each is whole; <see cref="XdsState.Diff"/> gives the changes
    /// between any two). Completes when <see cref="RunAsync"/> returns.</summary>
    public ChannelReader<XdsState> States => _states.Reader;

    public XdsClientStats Stats { get; } = new();

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled (then returns normally),
    /// reconnecting whenever a stream ends. It can run once.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0) throw new InvalidOperationException("the client is already running or has run");
        var backoff = new Backoff(_options.InitialBackoff, _options.MaxBackoff, _options.JitterSeed is { } s ? new Random(s) : new Random());
        try
        {
            using var channel = GrpcChannel.ForAddress(_options.Server, new GrpcChannelOptions
            {
                HttpHandler = _transport.CreateHandler(),
                DisposeHttpClient = true,
                MaxReceiveMessageSize = _options.MaxResponseBytes,
                MaxSendMessageSize = 16 << 20,
                // The channel's own reconnect backoff (1 s growing to 120 s by default) would otherwise
                // stack under ours: every attempt while it waits fails at once, and a server back after
                // a long outage is reached up to two minutes late. Ours paces the attempts; the channel follows.
                InitialReconnectBackoff = _options.InitialBackoff,
                MaxReconnectBackoff = _options.MaxBackoff,
            });
            var client = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
            for (int attempt = 1; !cancellationToken.IsCancellationRequested; attempt++)
            {
                _observer.Connecting(_options.Server, attempt);
                var (healthy, reason, error) = await StreamAsync(client, attempt, cancellationToken).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested) break;
                if (healthy) backoff.Reset();
                var delay = backoff.Next();
                Stats.Closed(error);
                _observer.StreamClosed(reason, delay);
                try
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            Stats.Closed(null);
            _states.Writer.TryComplete();
        }
    }

    private async Task<(bool Healthy, string Reason, string? Error)> StreamAsync(AggregatedDiscoveryService.AggregatedDiscoveryServiceClient client, int attempt, CancellationToken ct)
    {
        var headers = new Metadata();
        if (_options.TokenFile is { } tokenFile)
        {
            string token;
            try
            {
                token = (await File.ReadAllTextAsync(tokenFile, ct).ConfigureAwait(false)).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                string why = $"cannot read the token file {tokenFile}: {e.Message}";
                return (false, why, why);
            }
            if (token.Length == 0) return (false, $"the token file {tokenFile} is empty", $"the token file {tokenFile} is empty");
            headers.Add("authorization", "Bearer " + token);
        }
        foreach (var (k, v) in _options.Headers) headers.Add(k, v);

        var opened = Stopwatch.StartNew();
        bool answered = false;
        bool Healthy() => answered && opened.Elapsed >= _options.HealthyStream;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        AsyncDuplexStreamingCall<Disc.DeltaDiscoveryRequest, Disc.DeltaDiscoveryResponse>? call = null;
        try
        {
            _transport.TakeTlsFailure();
            call = client.DeltaAggregatedResources(headers, cancellationToken: cts.Token);
            var node = Node();
            var state = _state;
            int initial = 0;
            foreach (var type in _options.TypeUrls)
            {
                var req = new Disc.DeltaDiscoveryRequest { Node = node, TypeUrl = type };
                foreach (var (name, r) in state.Of(type)) req.InitialResourceVersions[name] = r.Version;
                initial += req.InitialResourceVersions.Count;
                await call.RequestStream.WriteAsync(req, cts.Token).ConfigureAwait(false);
            }
            while (await call.ResponseStream.MoveNext(cts.Token).ConfigureAwait(false))
            {
                if (!answered)
                {
                    answered = true;
                    Stats.Opened();
                    _observer.StreamOpened(attempt, initial);
                }
                var ack = Apply(call.ResponseStream.Current);
                await call.RequestStream.WriteAsync(ack, cts.Token).ConfigureAwait(false);
            }
            return (Healthy(), "the server ended the stream", null);
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            return (false, "cancelled", null);
        }
        catch (Exception e) when (e is RpcException or IOException or InvalidOperationException or HttpRequestException or OperationCanceledException)
        {
            string why = _transport.TakeTlsFailure() ?? Describe(e);
            return (Healthy(), why, why);
        }
        finally
        {
            call?.Dispose();
        }
    }

    private string Describe(Exception e)
    {
        string where = _options.Server.Authority;
        if (e is RpcException r)
        {
            var inner = r.Status.DebugException;
            while (inner?.InnerException is not null) inner = inner.InnerException;
            string detail = r.Status.Detail.Length > 0 ? r.Status.Detail : r.StatusCode.ToString();
            if (r.StatusCode == StatusCode.Unauthenticated || r.StatusCode == StatusCode.PermissionDenied)
                return $"{where} refused the stream ({r.StatusCode}: {detail}); check the token file";
            return inner is null || detail.Contains(inner.Message, StringComparison.Ordinal)
                ? $"{where}: {r.StatusCode}: {detail}"
                : $"{where}: {r.StatusCode}: {detail} ({inner.Message})";
        }
        return $"{where}: {e.Message}";
    }

    private Core.Node Node()
    {
        var meta = new Struct();
        foreach (var (k, v) in _options.Node.MetadataPairs()) meta.Fields[k] = Value.ForString(v);
        return new Core.Node { Id = _options.Node.Id, Metadata = meta };
    }

    /// <summary>Applies one response and returns its ACK or NACK.</summary>
    internal Disc.DeltaDiscoveryRequest Apply(Disc.DeltaDiscoveryResponse response)
    {
        string type = response.TypeUrl;
        var reply = new Disc.DeltaDiscoveryRequest { TypeUrl = type, ResponseNonce = response.Nonce };
        var before = _state;
        var rejected = new List<XdsRejection>();
        int updated = 0, removed = 0;
        if (!_options.TypeUrls.Contains(type, StringComparer.Ordinal))
        {
            // Not subscribed (ztunnel ACKs and ignores such a response too).
            Stats.Response(0, 0);
            Stats.Ack(DateTimeOffset.UtcNow);
            _observer.ResponseApplied(type, response.Nonce, 0, 0, [], before);
            return reply;
        }
        var map = before.Of(type) as ImmutableSortedDictionary<string, XdsResource> ?? ImmutableSortedDictionary<string, XdsResource>.Empty.WithComparers(StringComparer.Ordinal);
        var builder = map.ToBuilder();
        var kind = TypeUrls.Classify(type);
        foreach (var r in response.Resources)
        {
            if (r.Name.Length == 0) { rejected.Add(new(type, "(no name)", Codes.XdsMissingName.Code, "a resource without a name cannot be replaced or removed later")); continue; }
            if (r.Resource_ is not { } any) { rejected.Add(new(type, r.Name, Codes.XdsUndecodable.Code, "the resource holds no value (no Any)")); continue; }
            if (TypeUrls.Classify(any.TypeUrl) != kind)
            {
                rejected.Add(new(type, r.Name, Codes.XdsUnknownType.Code, $"a {TypeUrls.MessageName(any.TypeUrl)} in a response of type {TypeUrls.MessageName(type)}"));
                continue;
            }
            var d = _decoder.Decode(any.TypeUrl, any.Value.Span, r.Name);
            if (!d.Accepted)
            {
                var code = d.Diagnostics.FirstOrDefault(x => x.Severity == Severity.Error) ?? d.Diagnostics.FirstOrDefault();
                rejected.Add(new(type, r.Name, code?.Code ?? Codes.XdsUndecodable.Code, d.Rejection!));
                continue;
            }
            builder[r.Name] = new XdsResource(r.Name, r.Version, d, any.Value.Memory);
            updated++;
        }
        foreach (var name in response.RemovedResources)
            if (builder.Remove(name)) removed++;

        Stats.Response(updated, removed);
        if (rejected.Count == 0) _acked.Add(type);
        bool synced = before.InitialSyncDone || _options.TypeUrls.All(_acked.Contains);
        var after = before;
        if (updated + removed > 0 || synced != before.InitialSyncDone)
        {
            var resources = ((ImmutableSortedDictionary<string, IReadOnlyDictionary<string, XdsResource>>)before.Resources).SetItem(type, builder.ToImmutable());
            after = new XdsState(before.Revision + 1, resources, synced);
            _state = after;
            _states.Writer.TryWrite(after);
        }
        if (rejected.Count > 0)
        {
            reply.ErrorDetail = new Rpc.Status { Code = NackCode, Message = string.Join("; ", rejected) };
            Stats.Nack(rejected);
        }
        else Stats.Ack(DateTimeOffset.UtcNow);
        _observer.ResponseApplied(type, response.Nonce, updated, removed, rejected, after);
        return reply;
    }

    private sealed class NoObserver : IXdsClientObserver;
}

/// <summary>Reconnect delays: <c>initial · 2^n</c> bounded by <c>max</c>, each drawn uniformly in
/// [d/2, d) so that node agents restarted together do not reconnect together.</summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max, Random rng)
{
    private int _n;

    public void Reset() => _n = 0;

    public TimeSpan Next()
    {
        double d = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, _n));
        if (_n < 60) _n++;
        return TimeSpan.FromMilliseconds(d / 2 + rng.NextDouble() * d / 2);
    }
}
