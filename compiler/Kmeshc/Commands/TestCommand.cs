using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Xml;
using KmeshCompiler.Diagnostics;
using KmeshCompiler.Frontends;
using KmeshCompiler.Frontends.Text;
using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc test FILE... [--junit FILE]</c>: runs policy tests (*.test.kpl) with the reference
/// evaluator and load balancer. Each failure is reported at its line with the evaluator's trace; exit
/// 1 on any failure or error.</summary>
public static class TestCommand
{
    public static Command Create()
    {
        var files = new Argument<string[]>("FILE")
        {
            Description = "Policy test files (*.test.kpl) or directories searched for them.",
            Arity = ArgumentArity.OneOrMore,
        };
        var junit = new Option<string?>("--junit") { Description = "Also write the results as JUnit XML to this file (replaced atomically)." };
        var cmd = new Command("test", "Run policy tests: expectations about connections (allowed/denied) and load balancing, written in .test.kpl files.");
        cmd.Arguments.Add(files);
        cmd.Options.Add(junit);
        Cli.AddInputOptions(cmd);
        cmd.SetAction(r => Run(r, r.GetValue(files) ?? [], r.GetValue(junit)));
        return cmd;
    }

    /// <summary>One expectation's outcome. <see cref="Detail"/> holds the trace of a failure.</summary>
    public sealed record Outcome(string File, string Name, SourceLocation Location, bool Passed, string? Message, string? Detail);

    private static int Run(ParseResult r, string[] inputs, string? junitPath)
    {
        var io = Cli.Current(r);
        if (!Cli.CheckOutputs(io, [junitPath], inputs, p => p.EndsWith(".test.kpl", StringComparison.OrdinalIgnoreCase))) return Cli.Usage;
        var paths = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var listing = new DiagnosticBag();
                bool unlistable = false;
                var found = KmeshCompiler.IO.InputFiles.List(input, p => p.EndsWith(".test.kpl", StringComparison.OrdinalIgnoreCase), listing, ref unlistable);
                foreach (var d in listing.Sorted()) io.Err.WriteLine(d.ToString());
                if (unlistable) return Cli.Usage;
                if (found.Count == 0) io.Err.WriteLine(Codes.NoInputs.Create(new SourceLocation(input, 0, 0), input).ToString().Replace("error", "warning", StringComparison.Ordinal));
                paths.AddRange(found);
            }
            else if (File.Exists(input)) paths.Add(input);
            else
            {
                io.Err.WriteLine(Codes.PathNotFound.Create(new SourceLocation(input, 0, 0), input).ToString());
                return Cli.Usage;
            }
        }

        var outcomes = new List<Outcome>();
        bool errors = false;
        foreach (var path in paths)
        {
            var fileOutcomes = RunFile(path, Cli.Settings(r), io, out bool fileErrors);
            errors |= fileErrors;
            outcomes.AddRange(fileOutcomes);
            foreach (var o in fileOutcomes.Where(o => !o.Passed))
            {
                io.Out.WriteLine($"{o.Location}: FAIL {o.Name}");
                io.Out.WriteLine($"  {o.Message}");
                if (o.Detail is not null)
                    foreach (var line in o.Detail.TrimEnd('\n').Split('\n')) io.Out.WriteLine(line.Length == 0 ? "" : "    " + line);
            }
            int passed = fileOutcomes.Count(o => o.Passed);
            io.Out.WriteLine($"{(fileErrors || passed < fileOutcomes.Count ? "FAIL" : "ok  ")} {path}: {passed} of {fileOutcomes.Count} passed{(fileErrors ? ", with errors" : "")}");
        }
        int failed = outcomes.Count(o => !o.Passed);
        io.Out.WriteLine($"{outcomes.Count - failed} passed, {failed} failed");

        if (junitPath is not null)
        {
            if (!Cli.WriteOutputs(io, new KmeshCompiler.IO.OutputFile(junitPath, Encoding.UTF8.GetBytes(JUnit(paths, outcomes))))) return Cli.Usage;
        }
        return failed > 0 || errors ? Cli.Failed : Cli.Ok;
    }

    /// <summary>Reads one test file, builds its world (the named inputs plus anything defined inline)
    /// and checks each expectation. Errors in the file or its world are printed and fail the file.</summary>
    public static List<Outcome> RunFile(string path, FrontendSettings settings, Cli.Io io, out bool errors)
    {
        var bag = new DiagnosticBag();
        var outcomes = new List<Outcome>();
        bool unreadable = false;
        var read = new DiagnosticBag();
        if (KmeshCompiler.IO.InputFiles.Read(path, read, ref unreadable) is not { } bytes)
        {
            foreach (var diag in read.Sorted()) io.Err.WriteLine(diag.ToString());
            errors = true;
            return outcomes;
        }
        var source = new SourceText(path, bytes);
        if (InputKinds.Classify(source) is var kind and not InputKind.Kpl)
        {
            io.Err.WriteLine(Codes.NotKpl.Create(new SourceLocation(path, 1, 1), (object)InputKinds.Describe(kind),
                (object)"'kmeshc test' runs policy tests (.test.kpl files whose 'world' line names the YAML, e.g. 'world ../deploy'); to decide one connection against YAML use 'kmeshc check'").ToString());
            errors = true;
            return outcomes;
        }
        var doc = KplFrontend.ReadDocument(source, bag);
        string dir = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
        var worlds = new List<World>();
        bool envError = false;
        foreach (var w in doc.WorldRefs)
        {
            var refPaths = w.Paths.Select(p => Display(Path.IsPathRooted(p) ? p : Path.Combine(dir, p))).ToList();
            foreach (var p in refPaths.Where(p => !File.Exists(p) && !Directory.Exists(p)))
            {
                bag.Add(Codes.PathNotFound, w.Location, p);
                envError = true;
            }
            if (envError) continue;
            var load = InputLoader.Load(refPaths, settings);
            bag.AddRange(load.Diagnostics.Items);
            worlds.Add(load.World);
        }
        bool inline = doc.World.Namespaces.Length + doc.World.Nodes.Length + doc.World.Workloads.Length + doc.World.Services.Length + doc.World.Policies.Length > 0;
        if (inline) worlds.Add(doc.World);
        if (doc.WorldRefs.IsEmpty && !inline) bag.Add(Codes.KplTestNoWorld, new SourceLocation(path, 1, 1));
        if (doc.Expectations.IsEmpty) bag.Add(Codes.KplTestNoExpectations, new SourceLocation(path, 1, 1));
        var world = worlds.Count == 0 ? World.Empty : InputLoader.Merge(worlds, bag);
        errors = bag.HasErrors;
        foreach (var diag in bag.Sorted().Where(x => x.Severity >= Severity.Warning)) io.Err.WriteLine(diag.ToString());
        if (errors)
        {
            // The expectations cannot be trusted against a broken world: each counts as failed.
            // Named by their source line: an expectation with an error may not print back as written.
            var lines = System.Text.Encoding.UTF8.GetString(bytes).Split('\n');
            foreach (var e in doc.Expectations)
            {
                string line = e.Location.Line - 1 < lines.Length ? lines[e.Location.Line - 1].Trim() : "";
                string name = line.StartsWith("expect ", StringComparison.Ordinal) ? line["expect ".Length..] : KplPrinter.Expectation(e)["expect ".Length..];
                outcomes.Add(new Outcome(path, name, e.Location, false, "not run: the test file or its world has errors (see above)", null));
            }
            return outcomes;
        }
        var ev = new Evaluator(world);
        foreach (var e in doc.Expectations)
        {
            string name = KplPrinter.Expectation(e)["expect ".Length..];
            outcomes.Add(e switch
            {
                ConnectionExpectation c => Check(path, name, c, world, ev),
                LbExpectation l => Check(path, name, l, world),
                _ => new Outcome(path, name, e.Location, false, "unknown expectation", null),
            });
        }
        return outcomes;
    }

    /// <summary>A path as people want to read it: relative to the working directory when below it.</summary>
    private static string Display(string path)
    {
        string full = Path.GetFullPath(path);
        string rel = Path.GetRelativePath(Directory.GetCurrentDirectory(), full);
        return (rel.StartsWith("..", StringComparison.Ordinal) ? full : rel).Replace('\\', '/');
    }

    private static Outcome Check(string file, string name, ConnectionExpectation c, World world, Evaluator ev)
    {
        Outcome Fail(string message, string? detail = null) => new(file, name, c.Location, false, message, detail);
        if (!Endpoints.TryResolve(world, c.Destination, out var dst, out var dstW, out var err)) return Fail($"destination: {err}");
        if (!Endpoints.TryResolve(world, c.Source, out var src, out var srcW, out err)) return Fail($"source: {err}");
        if ((dstW is { IsTemplate: true } ? dstW : srcW is { IsTemplate: true } ? srcW : null) is { } t)
            return Fail($"{t.Kind} {t.Key} is a pod template without an address; policy tests decide connections between addresses: name a Pod, or use 'kmeshc check --dst {t.Kind.ToLowerInvariant()}/{t.Key}'");
        if (c.Port > ushort.MaxValue) return Fail($"port {c.Port} is not a TCP port (0..65535)");
        var conn = new Connection(src, dst, (ushort)c.Port, null);
        string identitySource;
        if (c.Identity is not null)
        {
            if (!Identity.TryParse(c.Identity, out var id)) return Fail($"'{c.Identity}' is not TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT");
            conn = conn with { SourceIdentity = id };
            identitySource = "given by the test";
        }
        else if (c.Plaintext) identitySource = "none (plaintext)";
        else
        {
            conn = ev.ResolveIdentity(conn);
            identitySource = conn.SourceIdentity is null ? "none: no workload has this source address" : "resolved from the source address";
        }
        var explanation = ev.Explain(conn);
        var v = explanation.Verdict;
        bool allowed = v.Decision == Decision.Allow;
        string got = $"{(allowed ? "allowed" : "denied")} ({v.Reason}{(v.Policy is null ? "" : ": " + v.Policy.Key)})";
        if (allowed != c.Allowed)
            return Fail($"expected {(c.Allowed ? "allowed" : "denied")}, got {got}", CheckOutput.Text(explanation, identitySource));
        if (c.Policy is not null && v.Policy?.Key != c.Policy)
            return Fail($"expected {(c.Allowed ? "allowed" : "denied")} by {c.Policy}, got {got}", CheckOutput.Text(explanation, identitySource));
        return new Outcome(file, name, c.Location, true, null, null);
    }

    private static Outcome Check(string file, string name, LbExpectation l, World world)
    {
        Outcome Fail(string message, string? detail = null) => new(file, name, l.Location, false, message, detail);
        var svc = world.Services.FirstOrDefault(s => $"{s.Namespace}/{s.Name}" == l.Service || s.Key == l.Service);
        if (svc is null) return Fail($"no service '{l.Service}' in the world (give namespace/name or namespace/hostname)");
        if (!world.Nodes.Any(n => n.Name == l.Node)) return Fail($"no node '{l.Node}' in the world");
        if (!svc.Ports.Any(p => p.Port == l.Port)) return Fail($"service {l.Service} has no port {l.Port} (ports: {string.Join(", ", svc.Ports.Select(p => p.Port))})");
        var res = LoadBalancer.Resolve(world, l.Node, svc, l.Port);
        var got = res.Selectable.Select(e => e.Workload.Key).Distinct().Order(StringComparer.Ordinal).ToList();
        var want = l.Workloads.Distinct().Order(StringComparer.Ordinal).ToList();
        if (got.SequenceEqual(want)) return new Outcome(file, name, l.Location, true, null, null);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"mode {res.Mode.ToString().ToLowerInvariant()}, scopes [{string.Join(" ", svc.LoadBalancing.RoutingPreference.Select(s => s.ToString().ToLowerInvariant()))}]\n");
        foreach (var e in res.Endpoints)
            sb.Append(CultureInfo.InvariantCulture, $"{(e.Selectable ? "*" : " ")} {e.Workload.Key} {e.Address}:{e.Port} priority {e.Priority} weight {e.Weight}{(e.Workload.Health == WorkloadHealth.Unhealthy ? " (unhealthy)" : "")}\n");
        if (res.Endpoints.IsEmpty) sb.Append("no endpoints\n");
        string Show(List<string> xs) => xs.Count == 0 ? "nothing" : string.Join(" ", xs);
        return Fail($"expected to reach {Show(want)}, but reaches {Show(got)}", sb.ToString());
    }

    /// <summary>JUnit XML: one testsuite per file, one testcase per expectation.</summary>
    public static string JUnit(IReadOnlyList<string> files, IReadOnlyList<Outcome> outcomes)
    {
        var sb = new StringBuilder();
        var settings = new XmlWriterSettings { Indent = true, OmitXmlDeclaration = false, Encoding = new UTF8Encoding(false) };
        using (var w = XmlWriter.Create(new StringWriter(sb, CultureInfo.InvariantCulture), settings))
        {
            w.WriteStartElement("testsuites");
            w.WriteAttributeString("name", "kmeshc test");
            w.WriteAttributeString("tests", outcomes.Count.ToString(CultureInfo.InvariantCulture));
            w.WriteAttributeString("failures", outcomes.Count(o => !o.Passed).ToString(CultureInfo.InvariantCulture));
            foreach (var f in files)
            {
                var mine = outcomes.Where(o => o.File == f).ToList();
                w.WriteStartElement("testsuite");
                w.WriteAttributeString("name", f);
                w.WriteAttributeString("tests", mine.Count.ToString(CultureInfo.InvariantCulture));
                w.WriteAttributeString("failures", mine.Count(o => !o.Passed).ToString(CultureInfo.InvariantCulture));
                foreach (var o in mine)
                {
                    w.WriteStartElement("testcase");
                    w.WriteAttributeString("classname", f);
                    w.WriteAttributeString("name", $"line {o.Location.Line}: {o.Name}");
                    w.WriteAttributeString("file", f);
                    w.WriteAttributeString("line", o.Location.Line.ToString(CultureInfo.InvariantCulture));
                    if (!o.Passed)
                    {
                        w.WriteStartElement("failure");
                        w.WriteAttributeString("message", o.Message ?? "failed");
                        w.WriteString($"{o.Location}: {o.Message}\n{o.Detail}");
                        w.WriteEndElement();
                    }
                    w.WriteEndElement();
                }
                w.WriteEndElement();
            }
            w.WriteEndElement();
        }
        return sb.ToString().Replace("utf-16", "utf-8", StringComparison.Ordinal) + "\n";
    }
}
