using System.Diagnostics;
using KmeshCompiler.Loader.Node;
using Prometheus;

namespace KmeshCompiler.Serve;

/// <summary>The Prometheus metrics of <c>kmeshc serve</c> (docs/serve.md lists them), in a registry of
/// their own. The loop records compile and publish times and outcomes; the source reports through
/// <see cref="IWorldSourceObserver"/>; the per-policy and per-verdict counters are read from the live
/// maps at every scrape (<see cref="CountersFrom"/>).</summary>
public sealed class ServeMetrics : IWorldSourceObserver
{
    public const string Prefix = "kmesh_serve_";

    private readonly Counter _received, _rejected, _compileFailures, _publishFailures, _states;
    private readonly Gauge _lastSync, _generation, _ready, _memory, _policiesInForce;
    private readonly Histogram _compile, _publish, _toLive;
    private readonly Counter _matched, _denied, _dryRun, _verdicts, _lbOutcomes, _counterReadErrors;
    private Func<NodeCounters?>? _readCounters;

    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    public ServeMetrics()
    {
        var f = Metrics.WithCustomRegistry(Registry);
        // Seconds from a millisecond to a minute: a small world compiles in a millisecond, a
        // 100,000-pod one in about half a second.
        var buckets = new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 17) };
        _received = f.CreateCounter(Prefix + "updates_received_total", "Updates received from the source (xDS responses, changed inputs), accepted or not.");
        _rejected = f.CreateCounter(Prefix + "updates_rejected_total", "Updates the source refused (NACKed), by reason; they changed nothing.", "reason");
        _lastSync = f.CreateGauge(Prefix + "last_sync_timestamp_seconds", "Unix time of the last successful sync with the source.");
        _compile = f.CreateHistogram(Prefix + "compile_duration_seconds", "Time to compile the node's image from a new state.", buckets);
        _publish = f.CreateHistogram(Prefix + "publish_duration_seconds", "Time for the loader to put a new image in force (lock, write, switch, wait for readers).", buckets);
        _toLive = f.CreateHistogram(Prefix + "update_to_live_seconds", "From the arrival of an update to its state being in force (coalescing, compile and the loader's switch).", buckets);
        _states = f.CreateCounter(Prefix + "states_total", "States handled, by outcome: published, unchanged (the image in force already equals it), compile_failed, publish_failed.", "outcome");
        _compileFailures = f.CreateCounter(Prefix + "compile_failures_total", "States whose image failed to compile (capacity, budgets); the previous image stayed in force.");
        _publishFailures = f.CreateCounter(Prefix + "publish_failures_total", "Images the loader could not put in force (busy lock, kernel error); retried.");
        _generation = f.CreateGauge(Prefix + "generation", "The loader's generation number in force (0: nothing loaded).");
        _ready = f.CreateGauge(Prefix + "ready", "1 once a full state of the source is in force (what /readyz answers).");
        _memory = f.CreateGauge(Prefix + "resident_memory_bytes", "Resident memory of the process.");
        _policiesInForce = f.CreateGauge(Prefix + "policies_in_force", "Policies of the generation in force that have a counter slot.");
        _matched = f.CreateCounter(Prefix + "policy_matched_total", "SYNs a policy matched (live maps, by policy name; kept across swaps and restarts).", "policy");
        _denied = f.CreateCounter(Prefix + "policy_denied_total", "SYNs a policy denied (live maps, by policy name).", "policy");
        _dryRun = f.CreateCounter(Prefix + "policy_dry_run_matched_total", "SYNs a dry-run policy matched (live maps, by policy name).", "policy");
        _verdicts = f.CreateCounter(Prefix + "verdicts_total", "SYN verdicts of the node's XDP program (live maps).", "verdict");
        _lbOutcomes = f.CreateCounter(Prefix + "lb_outcomes_total", "Connect-time load-balancing outcomes (live maps).", "outcome");
        _counterReadErrors = f.CreateCounter(Prefix + "counter_read_errors_total", "Scrapes whose read of the live counters failed.");
        _received.Publish();
        _compileFailures.Publish();
        _publishFailures.Publish();
        foreach (var o in Outcomes) _states.WithLabels(o).Publish();
        Registry.AddBeforeCollectCallback(BeforeScrape);
    }

    private static readonly string[] Outcomes = ["published", "unchanged", "compile_failed", "publish_failed"];

    /// <summary>Where a scrape reads the node's counters from (null: nothing loaded yet).</summary>
    public void CountersFrom(Func<NodeCounters?> read) => _readCounters = read;

    public void UpdateReceived() => _received.Inc();

    public void UpdateRejected(string reason) => _rejected.WithLabels(reason).Inc();

    public void Synced(DateTimeOffset at) => _lastSync.Set(at.ToUnixTimeMilliseconds() / 1000.0);

    internal void Compiled(TimeSpan t) => _compile.Observe(t.TotalSeconds);

    internal void CompileFailed()
    {
        _compileFailures.Inc();
        _states.WithLabels("compile_failed").Inc();
    }

    internal void Published(TimeSpan publish, TimeSpan? toLive, ulong generation, bool changed)
    {
        _publish.Observe(publish.TotalSeconds);
        if (toLive is { } l) _toLive.Observe(l.TotalSeconds);
        _generation.Set(generation);
        _states.WithLabels(changed ? "published" : "unchanged").Inc();
    }

    internal void PublishFailed()
    {
        _publishFailures.Inc();
        _states.WithLabels("publish_failed").Inc();
    }

    internal void Generation(ulong g) => _generation.Set(g);

    internal void Ready(bool ready) => _ready.Set(ready ? 1 : 0);

    private void BeforeScrape()
    {
        using (var self = Process.GetCurrentProcess()) _memory.Set(self.WorkingSet64);
        NodeCounters? c;
        try { c = _readCounters?.Invoke(); }
        catch (Exception)
        {
            _counterReadErrors.Inc();
            return;
        }
        if (c is null) return;
        for (int i = 0; i < NodeCounters.VerdictKeys.Length && i < c.Verdicts.Length; i++) Set(_verdicts, NodeCounters.VerdictKeys[i], c.Verdicts[i]);
        for (int i = 0; i < NodeCounters.LbKeys.Length && i < c.LbOutcomes.Length; i++) Set(_lbOutcomes, NodeCounters.LbKeys[i], c.LbOutcomes[i]);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in c.Policies)
        {
            names.Add(p.Policy);
            Set(_matched, p.Policy, p.Matched);
            Set(_denied, p.Policy, p.Denied);
            Set(_dryRun, p.Policy, p.DryRunMatched);
        }
        _policiesInForce.Set(c.Policies.Count(p => p.InForce));
        // A policy whose counter slot was freed (gone from both generations) leaves the metrics; if it
        // comes back its counters start again from zero, which Prometheus reads as a counter reset.
        foreach (var counter in new[] { _matched, _denied, _dryRun })
            foreach (var labels in counter.GetAllLabelValues().ToList())
                if (!names.Contains(labels[0])) counter.WithLabels(labels).Remove();
    }

    /// <summary>A counter child brought to a value read from the kernel: a value below the exported
    /// one (the slot was zeroed and reused) restarts the child, a reset for Prometheus.</summary>
    private static void Set(Counter counter, string label, ulong value)
    {
        var child = counter.WithLabels(label);
        if (value < child.Value)
        {
            child.Remove();
            child = counter.WithLabels(label);
        }
        child.IncTo(value);
    }
}
