using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Text.Json;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Loader.Native;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Lowering;
using KmeshCompiler.Serve;
using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Kernel;

/// <summary><c>kmeshc serve --from</c> as a real process: it goes live and ready, follows its
/// inputs, stops on SIGTERM/SIGINT with exit 0 leaving the image in force, and a restart resumes from
/// the pins (the image stays in force throughout; an unchanged state writes nothing).</summary>
public sealed class ServeProcessTests
{
    private const string Node = "node-a";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>A running serve process: its log lines (parsed) as they come.</summary>
    private sealed class Agent : IDisposable
    {
        private readonly Process _p;
        private readonly Task _reader;
        public ConcurrentQueue<JsonElement> Lines { get; } = new();
        public List<string> Raw { get; } = [];

        public Agent(string inputs, string pinDir)
        {
            _p = KmeshcProcess.Start(null, "serve", "--from", inputs, "--node", Node, "--pin-dir", pinDir, "--metrics", "127.0.0.1:0");
            _reader = Task.Run(async () =>
            {
                while (await _p.StandardError.ReadLineAsync() is { } line)
                {
                    lock (Raw) Raw.Add(line);
                    // Every line is one JSON object: ts, level, event, msg, fields.
                    using var doc = JsonDocument.Parse(line);
                    Lines.Enqueue(doc.RootElement.Clone());
                }
            });
        }

        public int Pid => _p.Id;

        public string Log { get { lock (Raw) return string.Join('\n', Raw); } }

        public async Task<JsonElement> Event(string name, Func<JsonElement, bool>? where = null)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < Timeout)
            {
                foreach (var l in Lines)
                    if (l.GetProperty("event").GetString() == name && (where is null || where(l))) return l;
                if (_p.HasExited && _reader.IsCompleted) break;
                await Task.Delay(20);
            }
            throw new Xunit.Sdk.XunitException($"no '{name}' event in the log:\n{Log}");
        }

        public async Task<int> Stop(int signal)
        {
            Assert.Equal(0, Libc.Kill(_p.Id, signal));
            await _p.WaitForExitAsync().WaitAsync(Timeout);
            await _reader.WaitAsync(Timeout);
            return _p.ExitCode;
        }

        public void Dispose()
        {
            if (!_p.HasExited) _p.Kill();
            _p.Dispose();
        }
    }

    private static async Task<HttpClient> Ready(Agent agent)
    {
        var listening = await agent.Event("listening");
        var client = new HttpClient { BaseAddress = new Uri($"http://{listening.GetProperty("fields").GetProperty("address").GetString()}"), Timeout = Timeout };
        var clock = Stopwatch.StartNew();
        while ((await client.GetAsync(ServeEndpoints.ReadyPath)).StatusCode != HttpStatusCode.OK)
        {
            if (clock.Elapsed > Timeout) throw new Xunit.Sdk.XunitException($"never ready:\n{agent.Log}");
            await Task.Delay(50);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(ServeEndpoints.HealthPath)).StatusCode);
        return client;
    }

    private static byte[] Compile(string inputs)
    {
        var load = InputLoader.Load([inputs], FrontendSettings.Default);
        var bag = new DiagnosticBag();
        return (Lowerer.Lower(load.World, Node, bag) ?? throw new InvalidOperationException(string.Join("; ", bag.Sorted()))).ToBytes();
    }

    private static LiveImage Live(string dir)
    {
        using var loader = NodeLoader.Open(dir, TimeSpan.FromSeconds(10), create: false);
        return loader.Dump() ?? throw new InvalidOperationException("nothing is live");
    }

    private const string DenyPolicy = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: deny-9999
          namespace: bookinfo
        spec:
          action: DENY
          rules:
          - to:
            - operation:
                ports: ["9999"]
        """;

    [KernelFact]
    public async Task Sigterm_stops_serve_with_exit_0_leaving_the_image_in_force_and_a_restart_resumes_it_without_unloading()
    {
        using var fs = new BpfFs();
        string dir = fs["kmesh"];
        string inputs = Directory.CreateTempSubdirectory("kmesh-serve-in").FullName;
        foreach (var f in Directory.EnumerateFiles(Repo.Path("examples", "bookinfo"), "*.yaml")) File.Copy(f, Path.Combine(inputs, Path.GetFileName(f)));

        ulong generation;
        using (var agent = new Agent(inputs, dir))
        {
            using var client = await Ready(agent);
            var published = await agent.Event("published");
            generation = published.GetProperty("fields").GetProperty("generation").GetUInt64();
            Assert.True(Compile(inputs).AsSpan().SequenceEqual(Live(dir).Image.ToBytes()));

            // The inputs change: the new state goes live.
            File.WriteAllText(Path.Combine(inputs, "deny.yaml"), DenyPolicy);
            await agent.Event("published", l => l.GetProperty("fields").GetProperty("generation").GetUInt64() > generation);
            generation = Live(dir).Generation;
            Assert.True(Compile(inputs).AsSpan().SequenceEqual(Live(dir).Image.ToBytes()));
            Assert.Contains("kmesh_serve_generation " + generation, await client.GetStringAsync(ServeEndpoints.MetricsPath));

            Assert.Equal(0, await agent.Stop(15)); // SIGTERM
            await agent.Event("stopped");
        }
        // Stopped: the last image stays in force, whole.
        var kept = Live(dir);
        Assert.Equal(generation, kept.Generation);
        Assert.True(Compile(inputs).AsSpan().SequenceEqual(kept.Image.ToBytes()));

        // A restart resumes from the pins: the same state writes nothing, the generation stays.
        using (var agent = new Agent(inputs, dir))
        {
            var resumed = await agent.Event("resumed");
            Assert.Equal(generation, resumed.GetProperty("fields").GetProperty("generation").GetUInt64());
            using var client = await Ready(agent);
            await agent.Event("unchanged");
            Assert.DoesNotContain(agent.Lines, l => l.GetProperty("event").GetString() == "published");
            Assert.Equal(generation, Live(dir).Generation);
            Assert.Equal(0, await agent.Stop(2)); // SIGINT
        }

        // Inputs changed while no agent ran: the restart puts the new state in force over the kept one.
        File.Delete(Path.Combine(inputs, "deny.yaml"));
        using (var agent = new Agent(inputs, dir))
        {
            await agent.Event("resumed");
            await Ready(agent);
            await agent.Event("published", l => l.GetProperty("fields").GetProperty("generation").GetUInt64() == generation + 1);
            Assert.True(Compile(inputs).AsSpan().SequenceEqual(Live(dir).Image.ToBytes()));
            Assert.Equal(0, await agent.Stop(15));
        }
    }
}
