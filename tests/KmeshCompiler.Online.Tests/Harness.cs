using System.Collections.Concurrent;
using FakeXds;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Online.Tests;

/// <summary>A fake server and a client against it, and the waits the tests need.</summary>
internal sealed class Harness : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    public FakeXdsServer Server { get; }
    public XdsClient Client { get; }
    public Recorder Events { get; } = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    private Harness(FakeXdsServer server, XdsClientOptions options)
    {
        Server = server;
        Client = new XdsClient(options, Events);
        _run = Client.RunAsync(_stop.Token);
    }

    public static async Task<Harness> StartAsync(World? world = null, Func<XdsClientOptions, XdsClientOptions>? configure = null, FakeXdsOptions? serverOptions = null, Action<FakeXdsServer>? prepare = null)
    {
        var server = await FakeXdsServer.StartAsync(serverOptions);
        server.ApplyWorld(world ?? Bookinfo);
        prepare?.Invoke(server);
        var options = Options(server.Address);
        return new Harness(server, configure is null ? options : configure(options));
    }

    public static XdsClientOptions Options(Uri server) => new()
    {
        Server = server,
        Node = new XdsNodeIdentity("node-a", "ztunnel-x1", "istio-system", "10.0.0.5"),
        InitialBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
        HealthyStream = TimeSpan.Zero,
        JitterSeed = 1,
    };

    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "KmeshCompiler.sln"))) return d.FullName;
        throw new InvalidOperationException("KmeshCompiler.sln not found above " + AppContext.BaseDirectory);
    }

    public static string Example(string name) => Path.Combine(RepoRoot, "examples", name);

    public static World Bookinfo { get; } = FakeXdsServer.Load([Example("bookinfo")]);

    /// <summary>The world a snapshot of <paramref name="w"/> reads back as (what the server serves).</summary>
    public static World AsServed(World w)
    {
        var bag = new DiagnosticBag();
        var world = XdsFrontend.Read(new SourceText("served.pb", SnapshotWriter.Write(w, SnapshotFormat.Binary)), FrontendSettings.Default, bag);
        Assert.False(bag.HasErrors, string.Join("\n", bag.Items));
        return world;
    }

    public World ClientWorld()
    {
        var bag = new DiagnosticBag();
        var w = Client.Current.ToWorld(bag);
        Assert.False(bag.HasErrors, string.Join("\n", bag.Items));
        return w;
    }

    public async Task<XdsState> WaitForAsync(Func<XdsState, bool> condition, string what, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition(Client.Current))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{what}: not reached in {seconds} s; last error: {Client.Stats.LastError}; requests:\n  {string.Join("\n  ", Server.Requests.TakeLast(8))}");
            await Task.Delay(10);
        }
        return Client.Current;
    }

    /// <summary>The client holds exactly what the server serves (names and versions) and answered everything.</summary>
    public async Task ConvergedAsync(double seconds = 20)
    {
        await Server.WaitQuietAsync(TimeSpan.FromSeconds(seconds));
        await WaitForAsync(s => Holds(s, TypeUrls.Address) && Holds(s, TypeUrls.Authorization), "client holds the served resources", seconds);
    }

    private bool Holds(XdsState s, string type)
    {
        var served = Server.Served(type);
        var held = s.Of(type);
        return held.Count == served.Count && served.All(kv => held.TryGetValue(kv.Key, out var r) && r.Version == kv.Value);
    }

    public async Task StopClientAsync()
    {
        _stop.Cancel();
        await _run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _run.WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
        await Server.DisposeAsync();
        _stop.Dispose();
    }
}

/// <summary>Records what the client reports.</summary>
internal sealed class Recorder : IXdsClientObserver
{
    public ConcurrentQueue<(string Type, string Nonce, int Updated, int Removed, IReadOnlyList<XdsRejection> Rejected)> Responses { get; } = new();
    public ConcurrentQueue<string> Closed { get; } = new();
    public ConcurrentQueue<(int Attempt, int Initial)> Opened { get; } = new();

    public void ResponseApplied(string typeUrl, string nonce, int updated, int removed, IReadOnlyList<XdsRejection> rejected, XdsState state) =>
        Responses.Enqueue((typeUrl, nonce, updated, removed, rejected));

    public void StreamClosed(string reason, TimeSpan backoff) => Closed.Enqueue(reason);

    public void StreamOpened(int attempt, int initialResources) => Opened.Enqueue((attempt, initialResources));
}
