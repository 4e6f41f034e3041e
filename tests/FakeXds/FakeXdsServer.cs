using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Google.Protobuf.WellKnownTypes;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Disc = KmeshCompiler.Frontends.Xds.Wire.Discovery;
using Sec = KmeshCompiler.Frontends.Xds.Wire.Security;
using Wl = KmeshCompiler.Frontends.Xds.Wire.Workload;

namespace FakeXds;

/// <summary>A request the server received on a stream: the first of a type (Initial, with the
/// client's initial_resource_versions), an ACK, or a NACK (with error_detail's message).</summary>
public sealed record ReceivedRequest(int Stream, string Kind, string TypeUrl, string Nonce, string? Error,
    IReadOnlyDictionary<string, string> InitialVersions, string? Authorization, string NodeId, IReadOnlyDictionary<string, string> NodeMetadata)
{
    public override string ToString() => Kind switch
    {
        "NACK" => $"stream {Stream}: NACK {TypeUrls.MessageName(TypeUrl)} nonce {Nonce}: {Error}",
        "Initial" => $"stream {Stream}: subscribe {TypeUrls.MessageName(TypeUrl)} from {NodeId} ({InitialVersions.Count} resources held)",
        _ => $"stream {Stream}: {Kind} {TypeUrls.MessageName(TypeUrl)} nonce {Nonce}",
    };
}

public sealed record FakeXdsOptions
{
    /// <summary>Where to listen; port 0 picks a free one. Loopback only.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Serve TLS with this certificate (with its private key); null serves h2c.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>Each received request and each push, as a line (the demo prints them).</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>A Delta ADS server for tests and demos (docs/xds.md, "The fake server"): it serves Address
/// and Authorization resources, made from a world the way <c>kmeshc snapshot</c> makes them
/// (<see cref="SnapshotWriter.Responses"/>), pushes every change to every open stream as updates and
/// removals against what that stream holds, and records every request it receives.</summary>
public sealed class FakeXdsServer : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, SortedDictionary<string, ServedResource>> _served = new(StringComparer.Ordinal);
    private readonly List<ReceivedRequest> _requests = [];
    private readonly List<Session> _sessions = [];
    private readonly FakeXdsOptions _options;
    private WebApplication? _app;
    private int _streams;
    private long _generation;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal sealed record ServedResource(string Version, Any Any);

    private FakeXdsServer(FakeXdsOptions options)
    {
        _options = options;
        foreach (var t in new[] { TypeUrls.Address, TypeUrls.Authorization }) _served[t] = new(StringComparer.Ordinal);
    }

    public static async Task<FakeXdsServer> StartAsync(FakeXdsOptions? options = null)
    {
        var server = new FakeXdsServer(options ?? new FakeXdsOptions());
        await server.ListenAsync(server._options.Listen).ConfigureAwait(false);
        return server;
    }

    /// <summary>http://127.0.0.1:PORT (h2c) or https://127.0.0.1:PORT.</summary>
    public Uri Address { get; private set; } = null!;

    public int StreamsOpened => Volatile.Read(ref _streams);

    /// <summary>Streams open now.</summary>
    public int OpenStreams
    {
        get { lock (_gate) return _sessions.Count; }
    }

    private async Task ListenAsync(IPEndPoint at)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc(o => { o.MaxReceiveMessageSize = 64 << 20; o.MaxSendMessageSize = null; });
        builder.Services.AddSingleton(this);
        // Embedded in tests and in the demo's own process: the host never takes over SIGINT/SIGTERM.
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, QuietLifetime>();
        var cert = _options.Certificate;
        builder.WebHost.ConfigureKestrel(k => k.Listen(at, lo =>
        {
            lo.Protocols = HttpProtocols.Http2;
            if (cert is not null) lo.UseHttps(cert);
        }));
        var app = builder.Build();
        app.MapGrpcService<AdsService>();
        await app.StartAsync().ConfigureAwait(false);
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Address = new Uri($"{(cert is null ? "http" : "https")}://{at.Address}:{bound.Port}");
        _app = app;
    }

    // ---- what is served ----------------------------------------------------------------------

    /// <summary>The served names and versions of a type.</summary>
    public IReadOnlyDictionary<string, string> Served(string typeUrl)
    {
        lock (_gate) return _served[typeUrl].ToDictionary(k => k.Key, k => k.Value.Version, StringComparer.Ordinal);
    }

    /// <summary>Replaces everything served with the resources of <paramref name="world"/> (as
    /// <c>kmeshc snapshot</c> writes them): open streams get the changed and new resources and the
    /// removals, one response per type.</summary>
    public void ApplyWorld(World world)
    {
        var next = new Dictionary<string, SortedDictionary<string, ServedResource>>(StringComparer.Ordinal);
        foreach (var t in _served.Keys) next[t] = new(StringComparer.Ordinal);
        foreach (var r in SnapshotWriter.Responses(world))
            foreach (var res in r.Resources)
                next[r.TypeUrl][res.Name] = new ServedResource(VersionOf(res.Resource_), res.Resource_);
        lock (_gate)
        {
            foreach (var (t, m) in next) _served[t] = m;
            Changed();
        }
    }

    /// <summary>Reads INPUTs as the CLI does (files, directories, snapshots) and serves their world.</summary>
    /// <exception cref="InvalidDataException">The inputs have errors (the message lists them).</exception>
    public void ApplyInputs(IReadOnlyList<string> inputs) => ApplyWorld(Load(inputs));

    public static World Load(IReadOnlyList<string> inputs)
    {
        var loaded = InputLoader.Load(inputs, FrontendSettings.Default);
        if (loaded.HasErrors)
            throw new InvalidDataException(string.Join("\n", loaded.Diagnostics.Sorted().Where(d => d.Severity == KmeshCompiler.Diagnostics.Severity.Error)));
        return loaded.World;
    }

    /// <summary>Adds or replaces one resource.</summary>
    public void Put(string typeUrl, string name, IMessage resource) => PutAny(typeUrl, name, Any.Pack(resource));

    public void PutAny(string typeUrl, string name, Any any)
    {
        lock (_gate)
        {
            _served[typeUrl][name] = new ServedResource(VersionOf(any), any);
            Changed();
        }
    }

    public void Remove(string typeUrl, string name)
    {
        lock (_gate)
        {
            if (!_served[typeUrl].Remove(name)) throw new KeyNotFoundException($"no {TypeUrls.MessageName(typeUrl)} named {name} is served");
            Changed();
        }
    }

    /// <summary>Serves a resource that fails validation under <paramref name="name"/>: an Authorization
    /// whose action is 7 (not in the enum), or an Address holding a workload with a 3-byte address.</summary>
    public void PutBad(string typeUrl, string name)
    {
        IMessage bad = TypeUrls.Classify(typeUrl) == ResourceType.Authorization
            ? new Sec.Authorization { Name = name.Split('/').Last(), Namespace = name.Contains('/') ? name.Split('/')[0] : "default", Action = (Sec.Action)7 }
            : new Wl.Address { Workload = new Wl.Workload { Uid = name, Name = name, Addresses = { ByteString.CopyFrom(10, 0, 0) } } };
        Put(typeUrl, name, bad);
    }

    /// <summary>The proto JSON of an Address or Authorization (what <c>put</c> in a script takes).</summary>
    public static IMessage ParseJson(string typeUrl, string json) => TypeUrls.Classify(typeUrl) switch
    {
        ResourceType.Authorization => JsonParser.Default.Parse<Sec.Authorization>(json),
        ResourceType.Address => JsonParser.Default.Parse<Wl.Address>(json),
        _ => throw new ArgumentException($"the fake server serves Address and Authorization, not {typeUrl}"),
    };

    private static string VersionOf(Any any) => Convert.ToHexStringLower(SHA256.HashData(any.ToByteArray()))[..16];

    private void Changed()
    {
        _generation++;
        var old = _changed;
        _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    // ---- streams ------------------------------------------------------------------------------

    /// <summary>Aborts every open stream (an HTTP/2 reset, as a crashed server would leave it).</summary>
    public void DropStreams()
    {
        Session[] open;
        lock (_gate) open = [.. _sessions];
        foreach (var s in open) s.Abort();
    }

    /// <summary>Stops listening (every stream dies), waits, and listens again on the same port with the
    /// same resources.</summary>
    public async Task RestartAsync(TimeSpan downtime)
    {
        var port = Address.Port;
        await StopAsync().ConfigureAwait(false);
        await Task.Delay(downtime).ConfigureAwait(false);
        await ListenAsync(new IPEndPoint(_options.Listen.Address, port)).ConfigureAwait(false);
    }

    public async Task StopAsync()
    {
        if (_app is not { } app) return;
        _app = null;
        DropStreams();
        await app.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    // ---- what was received --------------------------------------------------------------------

    public IReadOnlyList<ReceivedRequest> Requests
    {
        get { lock (_gate) return [.. _requests]; }
    }

    /// <summary>Waits for a request that satisfies <paramref name="match"/> (one already received counts).</summary>
    public async Task<ReceivedRequest> WaitForRequestAsync(Func<ReceivedRequest, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_requests.FirstOrDefault(match) is { } r) return r;
                wait = _received.Task;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no such request within {timeout}; received:\n  {string.Join("\n  ", Requests)}");
            await Task.WhenAny(wait, Task.Delay(left)).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until a stream is open, holds every served resource, and has answered (ACK or
    /// NACK) every response sent on it.</summary>
    public async Task WaitQuietAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (_gate)
                if (_sessions.Count > 0 && _sessions.All(s => s.Quiet(_served))) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the server did not go quiet within {timeout}; received:\n  {string.Join("\n  ", Requests.TakeLast(10))}");
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    private TaskCompletionSource _received = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Record(ReceivedRequest r)
    {
        TaskCompletionSource old;
        lock (_gate)
        {
            _requests.Add(r);
            old = _received;
            _received = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        old.TrySetResult();
        _options.Log?.Invoke(r.ToString());
    }

    // ---- one stream ---------------------------------------------------------------------------

    internal async Task ServeAsync(Grpc.Core.IAsyncStreamReader<Disc.DeltaDiscoveryRequest> requests,
        Grpc.Core.IServerStreamWriter<Disc.DeltaDiscoveryResponse> responses, Grpc.Core.ServerCallContext context)
    {
        var http = context.GetHttpContext();
        var session = new Session(Interlocked.Increment(ref _streams), http.Abort);
        string? auth = context.RequestHeaders.GetValue("authorization");
        var ct = context.CancellationToken;
        lock (_gate) _sessions.Add(session);
        try
        {
            var reading = Task.Run(async () =>
            {
                while (await requests.MoveNext(ct).ConfigureAwait(false))
                {
                    var req = requests.Current;
                    Record(session.Received(req, auth));
                    lock (_gate) Changed(); // a new subscription wants its first response
                }
            }, ct);
            while (!ct.IsCancellationRequested)
            {
                Task changed;
                List<Disc.DeltaDiscoveryResponse> toSend;
                lock (_gate)
                {
                    changed = _changed.Task;
                    toSend = session.Pending(_served);
                }
                foreach (var r in toSend)
                {
                    _options.Log?.Invoke($"stream {session.Id}: push {TypeUrls.MessageName(r.TypeUrl)} nonce {r.Nonce}: {r.Resources.Count} resources, {r.RemovedResources.Count} removed");
                    await responses.WriteAsync(r, ct).ConfigureAwait(false);
                }
                var done = await Task.WhenAny(changed, reading).ConfigureAwait(false);
                if (done == reading) { await reading.ConfigureAwait(false); return; }
            }
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // The client went away, or the stream was dropped on purpose.
        }
        finally
        {
            lock (_gate) _sessions.Remove(session);
        }
    }

    /// <summary>What one stream has been sent (names and versions per type), and its subscriptions.</summary>
    private sealed class Session(int id, Action abort)
    {
        public int Id => id;
        private readonly Dictionary<string, Dictionary<string, string>> _held = new(StringComparer.Ordinal);
        private readonly List<string> _subscribed = [];
        private readonly HashSet<string> _firstDue = new(StringComparer.Ordinal);
        private readonly HashSet<string> _unanswered = new(StringComparer.Ordinal);
        private int _nonce;

        public void Abort() => abort();

        public ReceivedRequest Received(Disc.DeltaDiscoveryRequest req, string? auth)
        {
            string kind;
            lock (this)
            {
                if (req.ResponseNonce.Length == 0)
                {
                    kind = "Initial";
                    if (!_subscribed.Contains(req.TypeUrl))
                    {
                        _subscribed.Add(req.TypeUrl);
                        _held[req.TypeUrl] = new(req.InitialResourceVersions, StringComparer.Ordinal);
                        _firstDue.Add(req.TypeUrl);
                    }
                }
                else
                {
                    kind = req.ErrorDetail is null ? "ACK" : "NACK";
                    _unanswered.Remove(req.ResponseNonce);
                }
            }
            var meta = req.Node?.Metadata?.Fields.ToDictionary(k => k.Key, k => k.Value.StringValue, StringComparer.Ordinal) ?? [];
            return new ReceivedRequest(id, kind, req.TypeUrl, req.ResponseNonce, req.ErrorDetail?.Message,
                new Dictionary<string, string>(req.InitialResourceVersions), auth, req.Node?.Id ?? "", meta);
        }

        /// <summary>The responses that bring this stream up to <paramref name="served"/>.</summary>
        public List<Disc.DeltaDiscoveryResponse> Pending(Dictionary<string, SortedDictionary<string, ServedResource>> served)
        {
            var list = new List<Disc.DeltaDiscoveryResponse>();
            lock (this)
            {
                foreach (var type in _subscribed)
                {
                    if (!served.TryGetValue(type, out var now)) now = [];
                    var held = _held[type];
                    var r = new Disc.DeltaDiscoveryResponse { TypeUrl = type };
                    foreach (var (name, s) in now)
                        if (!held.TryGetValue(name, out var v) || v != s.Version)
                        {
                            r.Resources.Add(new Disc.Resource { Name = name, Version = s.Version, Resource_ = s.Any });
                            held[name] = s.Version;
                        }
                    foreach (var name in held.Keys.Where(n => !now.ContainsKey(n)).ToList())
                    {
                        r.RemovedResources.Add(name);
                        held.Remove(name);
                    }
                    if (r.Resources.Count == 0 && r.RemovedResources.Count == 0 && !_firstDue.Contains(type)) continue;
                    _firstDue.Remove(type);
                    r.Nonce = (++_nonce).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    _unanswered.Add(r.Nonce);
                    list.Add(r);
                }
            }
            return list;
        }

        public bool Quiet(Dictionary<string, SortedDictionary<string, ServedResource>> served)
        {
            lock (this)
            {
                if (_subscribed.Count == 0 || _firstDue.Count > 0 || _unanswered.Count > 0) return false;
                foreach (var type in _subscribed)
                {
                    var now = served.TryGetValue(type, out var m) ? m : [];
                    var held = _held[type];
                    if (held.Count != now.Count || now.Any(kv => !held.TryGetValue(kv.Key, out var v) || v != kv.Value.Version)) return false;
                }
                return true;
            }
        }
    }
}

internal sealed class QuietLifetime : Microsoft.Extensions.Hosting.IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The gRPC service: each stream is served by <see cref="FakeXdsServer.ServeAsync"/>.</summary>
internal sealed class AdsService(FakeXdsServer server) : KmeshCompiler.Online.Wire.AggregatedDiscoveryService.AggregatedDiscoveryServiceBase
{
    public override Task DeltaAggregatedResources(Grpc.Core.IAsyncStreamReader<Disc.DeltaDiscoveryRequest> requestStream,
        Grpc.Core.IServerStreamWriter<Disc.DeltaDiscoveryResponse> responseStream, Grpc.Core.ServerCallContext context) =>
        server.ServeAsync(requestStream, responseStream, context);
}
