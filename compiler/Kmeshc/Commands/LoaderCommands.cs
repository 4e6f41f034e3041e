using System.CommandLine;
using System.Globalization;
using KmeshCompiler.Image;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;

namespace Kmeshc.Commands;

/// <summary>The loader's commands (cli.md; loader/README.md): <c>load</c>, <c>dump</c>, <c>attach</c>,
/// <c>detach</c>, <c>unload</c> and <c>counters</c>. The mechanisms are in the loader library; these
/// parse arguments and print.</summary>
public static class LoaderCommands
{
    private static Option<string> PinDir() => new("--pin-dir")
    {
        Description = "The bpffs directory of the node's pinned maps, programs and links.",
        DefaultValueFactory = _ => NodeLoader.DefaultPinDir,
    };

    private static Option<double> Wait(double seconds) => new("--wait")
    {
        Description = "Seconds to wait for another loader holding the pin directory before failing.",
        DefaultValueFactory = _ => seconds,
    };

    private static Option<string> Format() 
    {
        var f = new Option<string>("--format") { Description = "text or json.", DefaultValueFactory = _ => "text" };
        f.AcceptOnlyFromAmong("text", "json");
        return f;
    }

    /// <summary>Runs a loader action with the environment checks and the error mapping every loader
    /// command shares: a refused image exits 1; pins of another version, a busy or missing pin
    /// directory and every kernel error exit 2.</summary>
    private static int Guard(Cli.Io io, Func<int> action)
    {
        if (BpfEnvironment.Unavailable() is { } why) { io.Err.WriteLine($"kmeshc: error: {why}"); return Cli.Usage; }
        try
        {
            return action();
        }
        catch (LoaderException e)
        {
            io.Err.WriteLine($"kmeshc: error: {e.Message}");
            return e.Error is LoaderError.BadImage ? Cli.Failed : Cli.Usage;
        }
        catch (BpfException e)
        {
            io.Err.WriteLine($"kmeshc: error: {e.Message}");
            return Cli.Usage;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            io.Err.WriteLine($"kmeshc: error: {e.Message}");
            return Cli.Usage;
        }
    }

    public static IEnumerable<Command> Create() => [Load(), Dump(), Attach(), Detach(), Unload(), Counters()];

    private static Command Load()
    {
        var image = new Argument<string>("IMAGE") { Description = "An image written by kmeshc compile." };
        var pin = PinDir();
        var wait = Wait(10);
        var dry = new Option<bool>("--dry-run") { Description = "Print what the load would change, table by table, and change nothing." };
        var cmd = new Command("load", "Put an image in force on this node: atomically, crash-safe, writing only the rows that change.") { image, pin, dry, wait };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            int rc = InspectCommand.Read(io, parse.GetValue(image)!, out var file, out string contentHash);
            if (file is null) return rc;
            string dir = parse.GetValue(pin)!;
            var timeout = TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(wait)));
            return Guard(io, () =>
            {
                if (parse.GetValue(dry))
                {
                    Publisher.Check(file);
                    LiveImage? live = null;
                    if (Directory.Exists(dir))
                    {
                        using var l = NodeLoader.Open(dir, timeout, create: false);
                        live = l.Dump();
                    }
                    io.Out.Write(DryRun(live, file));
                    return Cli.Ok;
                }
                using var loader = NodeLoader.Open(dir, timeout, create: true);
                var report = loader.Load(file, contentHash);
                io.Out.Write(Report(report, file, loader.PinDir));
                return Cli.Ok;
            });
        });
        return cmd;
    }

    private static string Report(PublishReport r, ImageFile image, string dir)
    {
        var sb = new System.Text.StringBuilder();
        if (!r.Changed)
        {
            sb.AppendLine($"{dir}: the image is already in force (generation {r.Generation}, slot {r.Slot}); nothing written");
            return sb.ToString();
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"{dir}: generation {r.Generation} in force (slot {r.Slot}), node {image.Node}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  live after {r.Live.TotalMilliseconds:0.0} ms, done in {r.Total.TotalMilliseconds:0.0} ms, {r.Writes} kernel writes");
        foreach (var t in r.Tables.Where(t => t.Written))
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {t.Table,-18} +{t.Added} -{t.Removed} ~{t.Changed}");
        var same = r.Tables.Where(t => !t.Written).Select(t => t.Table).ToList();
        if (same.Count > 0) sb.AppendLine($"  unchanged, not rewritten: {string.Join(", ", same)}");
        return sb.ToString();
    }

    /// <summary>What a load would change: every table's rows added, removed and changed, as `inspect`
    /// renders them (names resolved).</summary>
    private static string DryRun(LiveImage? live, ImageFile next)
    {
        var sb = new System.Text.StringBuilder();
        string before = live is null ? "" : ImageText.Render(live.Image);
        sb.AppendLine(live is null
            ? "nothing is loaded: the load would create the pins and put every table in force"
            : $"in force: generation {live.Generation} (image {live.ContentHash[..12]}…, node {live.Image.Node})");
        var changes = ImageDiff.Compare(before, ImageText.Render(next));
        if (changes.Length == 0)
        {
            sb.AppendLine("no change: the image is already in force");
            return sb.ToString();
        }
        foreach (var t in changes)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{t.Table}: {t.Added.Length} added, {t.Removed.Length} removed, {t.Changed.Length} changed");
            foreach (var row in t.Removed) sb.AppendLine(Indent("- ", row.Text));
            foreach (var row in t.Added) sb.AppendLine(Indent("+ ", row.Text));
            foreach (var row in t.Changed) { sb.AppendLine(Indent("- ", row.Before)); sb.AppendLine(Indent("+ ", row.After)); }
        }
        return sb.ToString();
    }

    private static string Indent(string mark, string text) =>
        string.Join("\n", text.Split('\n').Select(l => mark + l.TrimStart()));

    private static Command Dump()
    {
        var pin = PinDir();
        var format = Format();
        var wait = Wait(10);
        var cmd = new Command("dump", "Read the live maps back: the image in force, rendered like kmeshc inspect, with its generation.") { pin, format, wait };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            return Guard(io, () =>
            {
                using var loader = NodeLoader.Open(parse.GetValue(pin)!, TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(wait))), create: false);
                var live = loader.Dump() ?? throw new LoaderException(LoaderError.NotLoaded, $"nothing is loaded in {loader.PinDir} yet (kmeshc load IMAGE)");
                string text = ImageText.Render(live.Image);
                if (parse.GetValue(format) == "json")
                {
                    io.Out.Write(Kmeshc.Json.Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("pinDir", loader.PinDir);
                        w.WriteNumber("generation", live.Generation);
                        w.WriteNumber("slot", live.Slot);
                        w.WriteString("contentHash", live.ContentHash);
                        w.WriteString("abiHash", live.Image.AbiHash);
                        w.WriteString("node", live.Image.Node);
                        w.WriteStartArray("tables");
                        foreach (var s in live.Image.Sections)
                        {
                            w.WriteStartObject();
                            w.WriteString("name", s.Name);
                            w.WriteNumber("entries", s.Entries.Length);
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                        w.WriteString("text", text);
                        w.WriteEndObject();
                    }) + "\n");
                }
                else
                {
                    io.Out.WriteLine($"# {loader.PinDir}: generation {live.Generation} (slot {live.Slot}), image {live.ContentHash}");
                    io.Out.Write(text);
                }
                return Cli.Ok;
            });
        });
        return cmd;
    }

    private static (Option<string?> Xdp, Option<string?> Cgroup) Targets()
    {
        var xdp = new Option<string?>("--xdp") { Description = "A network interface (XDP authorization)." };
        var cgroup = new Option<string?>("--cgroup") { Description = "A cgroup v2 directory (connect-time load balancing)." };
        return (xdp, cgroup);
    }

    /// <summary>Exactly one of --xdp and --cgroup: null, or the usage exit code after saying so.</summary>
    private static int? OneTarget(Cli.Io io, ParseResult parse, Option<string?> xdp, Option<string?> cgroup)
    {
        if ((parse.GetValue(xdp) is null) != (parse.GetValue(cgroup) is null)) return null;
        io.Err.WriteLine($"kmeshc: error: give one of --xdp IFACE or --cgroup PATH");
        io.Err.WriteLine($"Run 'kmeshc {parse.CommandResult.Command.Name} --help' for usage.");
        return Cli.Usage;
    }

    private static Command Attach()
    {
        var (xdp, cgroup) = Targets();
        var mode = new Option<string>("--mode") { Description = "XDP mode: native (the driver's hook) or generic (any device).", DefaultValueFactory = _ => "native" };
        mode.AcceptOnlyFromAmong("native", "generic");
        var pin = PinDir();
        var wait = Wait(10);
        var cmd = new Command("attach", "Attach the node's programs through links pinned beside the maps (they outlive this process); attaching again replaces the program in place.") { xdp, mode, cgroup, pin, wait };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            if (OneTarget(io, parse, xdp, cgroup) is { } usage) return usage;
            return Guard(io, () =>
            {
                using var loader = NodeLoader.Open(parse.GetValue(pin)!, TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(wait))), create: false);
                IReadOnlyList<string> links = parse.GetValue(xdp) is { } iface
                    ? [loader.AttachXdp(iface, parse.GetValue(mode) == "generic" ? XdpMode.Generic : XdpMode.Native)]
                    : loader.AttachCgroup(parse.GetValue(cgroup)!);
                foreach (var l in links) io.Out.WriteLine($"attached: {l}");
                return Cli.Ok;
            });
        });
        return cmd;
    }

    private static Command Detach()
    {
        var (xdp, cgroup) = Targets();
        var pin = PinDir();
        var wait = Wait(10);
        var cmd = new Command("detach", "Detach the programs from an interface or a cgroup and remove their pinned links.") { xdp, cgroup, pin, wait };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            if (OneTarget(io, parse, xdp, cgroup) is { } usage) return usage;
            return Guard(io, () =>
            {
                using var loader = NodeLoader.Open(parse.GetValue(pin)!, TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(wait))), create: false);
                string what = parse.GetValue(xdp) is { } i ? $"interface {i}" : $"cgroup {parse.GetValue(cgroup)}";
                if (!loader.Detach(parse.GetValue(xdp), parse.GetValue(cgroup)))
                {
                    io.Err.WriteLine($"kmeshc: error: nothing is attached to {what} from {loader.PinDir}");
                    return Cli.Usage;
                }
                io.Out.WriteLine($"detached: {what}");
                return Cli.Ok;
            });
        });
        return cmd;
    }

    private static Command Unload()
    {
        var pin = PinDir();
        var wait = Wait(10);
        var cmd = new Command("unload", "Detach every link and remove every pinned object of the directory (the clean shutdown).") { pin, wait };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            return Guard(io, () =>
            {
                string dir = parse.GetValue(pin)!;
                bool any = NodeLoader.Unload(dir, TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(wait))));
                io.Out.WriteLine(any ? $"unloaded: {Path.GetFullPath(dir)}" : $"nothing to unload: {Path.GetFullPath(dir)} does not exist");
                return Cli.Ok;
            });
        });
        return cmd;
    }

    private static readonly string[] VerdictNames =
        ["allowed by policy", "no allow policies", "explicitly denied", "allow policies exist, but none allowed", "dropped: evaluation error", "dropped: unparsable SYN"];

    private static Command Counters()
    {
        var pin = PinDir();
        var format = Format();
        var all = new Option<bool>("--all") { Description = "List every policy with a counter, counted or not." };
        var cmd = new Command("counters", "Per-policy (matched, denied, dry-run matched) and per-verdict counters of the live programs, by policy name.") { pin, format, all };
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            return Guard(io, () =>
            {
                string dir = Path.GetFullPath(parse.GetValue(pin)!);
                if (!Directory.Exists(dir)) throw new LoaderException(LoaderError.NotLoaded, $"--pin-dir {dir} does not exist: is an image loaded (kmeshc load)?");
                using var objects = NodeObjects.OpenPinned(dir);
                var c = NodeCounters.Read(objects);
                var rows = c.Policies.Where(p => parse.GetValue(all) ? p.InForce : p.Matched + p.Denied + p.DryRunMatched > 0).ToList();
                rows.Sort((a, b) => b.Denied != a.Denied ? b.Denied.CompareTo(a.Denied) : b.Matched != a.Matched ? b.Matched.CompareTo(a.Matched) : string.CompareOrdinal(a.Policy, b.Policy));
                io.Out.Write(parse.GetValue(format) == "json" ? CountersJson(c, rows) : CountersText(c, rows));
                return Cli.Ok;
            });
        });
        return cmd;
    }

    private static string CountersJson(NodeCounters c, List<PolicyCounter> rows) => Kmeshc.Json.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("verdicts");
        for (int i = 0; i < NodeCounters.VerdictKeys.Length; i++) w.WriteNumber(NodeCounters.VerdictKeys[i], c.Verdicts[i]);
        w.WriteEndObject();
        w.WriteStartArray("policies");
        foreach (var r in rows)
        {
            w.WriteStartObject();
            w.WriteString("policy", r.Policy);
            w.WriteBoolean("inForce", r.InForce);
            w.WriteNumber("matched", r.Matched);
            w.WriteNumber("denied", r.Denied);
            w.WriteNumber("dryRunMatched", r.DryRunMatched);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("loadBalancing");
        for (int i = 0; i < NodeCounters.LbKeys.Length; i++) w.WriteNumber(NodeCounters.LbKeys[i], c.LbOutcomes[i]);
        w.WriteEndObject();
        w.WriteEndObject();
    }) + "\n";

    private static string CountersText(NodeCounters c, List<PolicyCounter> rows)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("verdicts (SYNs to local workloads):");
        for (int i = 0; i < VerdictNames.Length; i++) sb.AppendLine(CultureInfo.InvariantCulture, $"  {VerdictNames[i],-40} {c.Verdicts[i],12}");
        sb.AppendLine();
        if (rows.Count == 0) sb.AppendLine("policies: none has matched yet");
        else
        {
            int width = Math.Max(6, rows.Max(r => r.Policy.Length + (r.InForce ? 0 : 12)));
            sb.AppendLine($"  {"policy".PadRight(width)} {"matched",12} {"denied",12} {"dry-run",12}");
            foreach (var r in rows)
                sb.AppendLine(CultureInfo.InvariantCulture, $"  {(r.Policy + (r.InForce ? "" : " (removed)")).PadRight(width)} {r.Matched,12} {r.Denied,12} {r.DryRunMatched,12}");
        }
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"load balancing: {c.LbOutcomes[0]} rewritten, {c.LbOutcomes[1]} without endpoint (left unchanged), {c.LbOutcomes[2]} passthrough, {c.LbOutcomes[3]} errors");
        return sb.ToString();
    }
}
