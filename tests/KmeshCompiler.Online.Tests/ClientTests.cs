using FakeXds;
using KmeshCompiler.Frontends.Xds;
using KmeshCompiler.Ir;
using Sec = KmeshCompiler.Frontends.Xds.Wire.Security;

namespace KmeshCompiler.Online.Tests;

/// <summary>The Delta ADS client against the fake server: initial sync, updates and removals, NACKs,
/// the node identity, cancellation.</summary>
public class ClientTests
{
    [Fact]
    public async Task The_initial_state_is_the_world_of_the_input_files()
    {
        await using var h = await Harness.StartAsync();
        var state = await h.WaitForAsync(s => s.InitialSyncDone, "initial sync");
        Assert.Equal(h.Server.Served(TypeUrls.Address).Count + h.Server.Served(TypeUrls.Authorization).Count, state.Count);
        // The bookinfo example is a world whose nodes and namespaces all come back over xDS
        // (docs/xds.md, "Nodes and namespaces are derived"): the YAML's world itself.
        var client = h.ClientWorld();
        Assert.True(IrEquality.Equal(Harness.Bookinfo, client), IrEquality.FirstDifference(Harness.Bookinfo, client));
        Assert.True(h.Client.Stats.LastSuccessfulSync is not null);
        Assert.Equal(0, h.Client.Stats.Nacks);
        // Every response was ACKed with its nonce.
        await h.Server.WaitQuietAsync(Harness.Timeout);
        var acks = h.Server.Requests.Where(r => r.Kind == "ACK").ToList();
        Assert.Equal(2, acks.Count);
        Assert.Equal(["1", "2"], acks.Select(a => a.Nonce).Order());
    }

    [Fact]
    public async Task The_first_requests_carry_the_node_identity_and_subscribe_to_both_types()
    {
        await using var h = await Harness.StartAsync(configure: o => o with { Node = o.Node with { Metadata = new Dictionary<string, string> { ["CLUSTER_ID"] = "Kubernetes" } } });
        await h.WaitForAsync(s => s.InitialSyncDone, "initial sync");
        var initial = h.Server.Requests.Where(r => r.Kind == "Initial").ToList();
        Assert.Equal([TypeUrls.Address, TypeUrls.Authorization], initial.Select(r => r.TypeUrl));
        foreach (var r in initial)
        {
            Assert.Equal("ztunnel~10.0.0.5~ztunnel-x1.istio-system~istio-system.svc.cluster.local", r.NodeId);
            Assert.Equal("node-a", r.NodeMetadata["NODE_NAME"]);
            Assert.Equal("ztunnel-x1", r.NodeMetadata["NAME"]);
            Assert.Equal("istio-system", r.NodeMetadata["NAMESPACE"]);
            Assert.Equal("10.0.0.5", r.NodeMetadata["INSTANCE_IPS"]);
            Assert.Equal("Kubernetes", r.NodeMetadata["CLUSTER_ID"]);
            Assert.Empty(r.InitialVersions);
            Assert.Null(r.Authorization);
        }
    }

    [Fact]
    public async Task Updates_and_removals_are_applied_and_the_world_follows()
    {
        await using var h = await Harness.StartAsync();
        await h.ConvergedAsync();
        long revision = h.Client.Current.Revision;

        // Remove one policy and one workload, relabel (move) another, add a DENY policy.
        var w = Harness.Bookinfo;
        var gone = w.Policies[0];
        var moved = w.Workloads[1];
        var next = w with
        {
            Policies = [.. w.Policies.Skip(1), w.Policies[1] with { Name = "deny-all-added", Action = PolicyAction.Deny }],
            Workloads = [.. w.Workloads.Where(x => x != w.Workloads[0]).Select(x => x == moved ? x with { ServiceAccount = "moved" } : x)],
        };
        h.Server.ApplyWorld(next);
        await h.ConvergedAsync();
        var state = h.Client.Current;
        Assert.True(state.Revision > revision);
        Assert.False(state.Of(TypeUrls.Authorization).ContainsKey(gone.Key));
        Assert.True(state.Of(TypeUrls.Authorization).ContainsKey($"{w.Policies[1].Namespace}/deny-all-added"));
        Assert.False(state.Of(TypeUrls.Address).ContainsKey(w.Workloads[0].Uid));
        var client = h.ClientWorld();
        var expected = Harness.AsServed(next);
        Assert.True(IrEquality.Equal(expected, client), IrEquality.FirstDifference(expected, client));

        // The changes between the two states, resource by resource.
        var changes = XdsState.Diff(XdsState.Empty, state);
        Assert.Equal(state.Count, changes.Count);
        Assert.True(h.Client.Stats.ResourcesRemoved >= 2);
    }

    [Fact]
    public async Task A_resource_that_fails_validation_is_NACKed_with_the_reason_and_the_previous_version_stays()
    {
        await using var h = await Harness.StartAsync();
        await h.ConvergedAsync();
        var before = h.Client.Current;
        var policy = Harness.Bookinfo.Policies[0];
        var held = before.Of(TypeUrls.Authorization)[policy.Key];

        // A new bad resource: NACKed, nothing changes.
        h.Server.PutBad(TypeUrls.Authorization, "bookinfo/broken");
        var nack = await h.Server.WaitForRequestAsync(r => r.Kind == "NACK", Harness.Timeout);
        Assert.Equal(TypeUrls.Authorization, nack.TypeUrl);
        Assert.StartsWith("bookinfo/broken: KM5007 ", nack.Error);
        Assert.Contains("action", nack.Error);
        await h.Server.WaitQuietAsync(Harness.Timeout);
        Assert.Same(before, h.Client.Current);

        // An existing policy replaced by a bad version, in the same response as a good change: the
        // good one is applied, the bad one NACKed, and the policy's accepted version stays in force.
        var other = Harness.Bookinfo.Policies[1];
        var edited = SnapshotWriter.Authorization(other with { Action = other.Action == PolicyAction.Allow ? PolicyAction.Deny : PolicyAction.Allow });
        h.Server.PutBad(TypeUrls.Authorization, policy.Key);
        h.Server.Put(TypeUrls.Authorization, other.Key, edited);
        await h.Server.WaitForRequestAsync(r => r.Kind == "NACK" && r.Error!.Contains(policy.Key + ": KM5007", StringComparison.Ordinal), Harness.Timeout);
        await h.WaitForAsync(s => s.Of(TypeUrls.Authorization)[other.Key].Version == h.Server.Served(TypeUrls.Authorization)[other.Key], "the good edit applied");
        var after = h.Client.Current;
        Assert.Same(held, after.Of(TypeUrls.Authorization)[policy.Key]);
        Assert.False(after.Of(TypeUrls.Authorization).ContainsKey("bookinfo/broken"));
        Assert.NotEqual(other.Action, Assert.IsType<Policy>(after.Of(TypeUrls.Authorization)[other.Key].Decoded.Element).Action);
        Assert.True(h.Client.Stats.RejectionsByReason["KM5007"] >= 2);
        Assert.True(h.Client.Stats.Nacks >= 2);

        // A bad workload address: KM5010.
        h.Server.PutBad(TypeUrls.Address, "Kubernetes//Pod/bookinfo/broken");
        nack = await h.Server.WaitForRequestAsync(r => r.Kind == "NACK" && r.TypeUrl == TypeUrls.Address, Harness.Timeout);
        Assert.StartsWith("Kubernetes//Pod/bookinfo/broken: KM5010 ", nack.Error);

        // The fix: an ACK, and the state holds it.
        h.Server.Remove(TypeUrls.Address, "Kubernetes//Pod/bookinfo/broken");
        h.Server.Remove(TypeUrls.Authorization, "bookinfo/broken");
        h.Server.Put(TypeUrls.Authorization, policy.Key, SnapshotWriter.Authorization(policy));
        await h.ConvergedAsync();
    }

    [Fact]
    public async Task Until_each_type_is_ACKed_the_initial_sync_is_not_done()
    {
        await using var h = await Harness.StartAsync(prepare: s => s.PutBad(TypeUrls.Authorization, "bookinfo/broken"));
        await h.Server.WaitQuietAsync(Harness.Timeout);
        Assert.False(h.Client.Current.InitialSyncDone);
        Assert.NotEmpty(h.Client.Current.Of(TypeUrls.Authorization)); // the good policies are held
        h.Server.Remove(TypeUrls.Authorization, "bookinfo/broken");
        await h.WaitForAsync(s => s.InitialSyncDone, "initial sync after the fix");
    }

    [Fact]
    public async Task Cancellation_stops_the_client_and_completes_the_states()
    {
        await using var h = await Harness.StartAsync();
        await h.WaitForAsync(s => s.InitialSyncDone, "initial sync");
        await h.StopClientAsync();
        Assert.False(h.Client.Stats.Connected);
        var drained = new List<XdsState>();
        await foreach (var s in h.Client.States.ReadAllAsync().WithCancellation(new CancellationTokenSource(Harness.Timeout).Token)) drained.Add(s);
        Assert.True(drained.Count <= 1);
        await Assert.ThrowsAsync<InvalidOperationException>(() => h.Client.RunAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_states_channel_delivers_the_newest_state()
    {
        await using var h = await Harness.StartAsync();
        await h.ConvergedAsync();
        XdsState? last = null;
        while (h.Client.States.TryRead(out var s)) last = s;
        Assert.Same(h.Client.Current, last);
        h.Server.Remove(TypeUrls.Authorization, Harness.Bookinfo.Policies[0].Key);
        var next = await h.Client.States.ReadAsync(new CancellationTokenSource(Harness.Timeout).Token);
        Assert.False(next.Of(TypeUrls.Authorization).ContainsKey(Harness.Bookinfo.Policies[0].Key));
        var change = Assert.Single(XdsState.Diff(last!, next));
        Assert.Null(change.After);
        Assert.Equal(Harness.Bookinfo.Policies[0].Key, change.Name);
    }

    [Fact]
    public void Unusable_configuration_is_refused_up_front()
    {
        var o = Harness.Options(new Uri("http://127.0.0.1:1"));
        Assert.Contains("http:// (plaintext HTTP/2) or https://", Assert.Throws<XdsConfigurationException>(() => new XdsClient(o with { Server = new Uri("ftp://127.0.0.1:1") })).Message);
        string empty = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<XdsConfigurationException>(() => new XdsClient(o with { Server = new Uri("https://127.0.0.1:1"), CaFile = empty }));
            Assert.Contains("holds no PEM certificate", e.Message);
            e = Assert.Throws<XdsConfigurationException>(() => new XdsClient(o with { Server = new Uri("https://127.0.0.1:1"), CaFile = empty + ".missing" }));
            Assert.Contains("cannot read the CA file", e.Message);
        }
        finally
        {
            File.Delete(empty);
        }
    }

    [Fact]
    public void Backoff_doubles_with_jitter_up_to_its_bound_and_resets()
    {
        var b = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), new Random(7));
        double bound = 100;
        for (int i = 0; i < 12; i++)
        {
            double d = b.Next().TotalMilliseconds;
            Assert.InRange(d, bound / 2, bound);
            bound = Math.Min(2000, bound * 2);
        }
        b.Reset();
        Assert.InRange(b.Next().TotalMilliseconds, 50, 100);
        // Jitter spreads clients: twenty draws at one step are not all alike.
        var spread = Enumerable.Range(0, 20).Select(i => { var x = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), new Random(i)); return x.Next(); }).Distinct().Count();
        Assert.True(spread > 10);
    }
}
