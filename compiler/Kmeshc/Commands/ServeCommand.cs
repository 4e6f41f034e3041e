using KmeshCompiler.Online;
using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using KmeshCompiler.IO;
using KmeshCompiler.Loader;
using KmeshCompiler.Loader.Node;
using KmeshCompiler.Serve;
using Microsoft.Extensions.Logging;

namespace Kmeshc.Commands;

/// <summary><c>kmeshc serve (--xds URL | --from INPUT...) --node NODE [--pin-dir DIR] [--metrics ADDR]
/// [--ca FILE --token FILE]</c>: the online compiler (docs/serve.md). Parses the arguments, checks the
/// environment, and runs <see cref="ServeHost"/> until SIGTERM or SIGINT, which stop it with the last
/// image in force (exit 0).</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var xds = new Option<string?>("--xds") { Description = "istiod's xDS address (Delta ADS): https://istiod.istio-system.svc:15012 (TLS, with --ca and --token) or http://HOST:PORT (plaintext h2c).", HelpName = "URL" };
        var from = new Option<string[]>("--from")
        {
            Description = "Serve the world read from these files or directories instead (any INPUT the other commands read), read again whenever they change. Repeat for several.",
            AllowMultipleArgumentsPerToken = false,
            HelpName = "DIR-or-FILE",
        };
        var node = new Option<string>("--node") { Description = "The node this agent compiles for (in a DaemonSet: the NODE_NAME from the downward API).", Required = true, HelpName = "NODE" };
        var pin = new Option<string>("--pin-dir")
        {
            Description = "The bpffs directory of the node's pinned maps and programs (created on the first publish, resumed after a restart).",
            DefaultValueFactory = _ => NodeLoader.DefaultPinDir,
            HelpName = "DIR",
        };
        var metrics = new Option<string>("--metrics")
        {
            Description = $"IP:PORT for Prometheus metrics ({ServeEndpoints.MetricsPath}), {ServeEndpoints.HealthPath} and {ServeEndpoints.ReadyPath}; 'none' serves no HTTP.",
            DefaultValueFactory = _ => ServeEndpoints.DefaultAddress,
            HelpName = "IP:PORT",
        };
        var ca = new Option<string?>("--ca") { Description = "PEM file of the CA that signs istiod's certificate (TLS to port 15012).", HelpName = "FILE" };
        var token = new Option<string?>("--token") { Description = "File of the bearer token sent to istiod (a projected service-account token, audience istio-ca).", HelpName = "FILE" };
        var cmd = new Command("serve", "Run as the node's online compiler: follow a source of the world, compile the node's image on every change and put it in force through the loader; Prometheus metrics, /healthz and /readyz.")
        {
            xds, from, node, pin, metrics, ca, token,
        };
        Cli.AddInputOptions(cmd);
        cmd.SetAction(parse =>
        {
            var io = Cli.Current(parse);
            int Usage(string message)
            {
                io.Err.WriteLine($"kmeshc: error: {message}");
                io.Err.WriteLine("Run 'kmeshc serve --help' for usage.");
                return Cli.Usage;
            }
            string? url = parse.GetValue(xds);
            string[] inputs = parse.GetValue(from) ?? [];
            if ((url is null) == (inputs.Length == 0)) return Usage("give one source: --xds URL or --from DIR-or-FILE");
            if (url is null && (parse.GetValue(ca) is not null || parse.GetValue(token) is not null)) return Usage("--ca and --token go with --xds");
            XdsClientOptions? xdsOptions = null;
            if (url is not null)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https"))
                    return Usage($"--xds {url}: give http://HOST:PORT (plaintext h2c) or https://HOST:PORT (TLS)");
                xdsOptions = new XdsClientOptions
                {
                    Server = server,
                    Node = XdsNodeIdentity.FromEnvironment(parse.GetValue(node)!),
                    CaFile = parse.GetValue(ca),
                    TokenFile = parse.GetValue(token),
                };
            }
            foreach (var input in inputs)
            {
                if (input == "-") return Usage("--from -: standard input cannot be read again when it changes; give a file or a directory");
                FileKind kind;
                try { kind = FileStat.Of(input).Kind; }
                catch (IOException e) { return Usage($"--from {input}: {e.Message}"); }
                if (kind is not (FileKind.Regular or FileKind.Directory))
                    return Usage($"--from {input}: " + (kind == FileKind.Missing ? "no such file or directory" : $"a {FileStat.Describe(kind)} is not an input"));
            }
            IPEndPoint? listen = null;
            string address = parse.GetValue(metrics)!;
            if (address != "none" && (listen = ServeEndpoints.ParseAddress(address, out string? why)) is null) return Usage($"--metrics: {why}");
            if (BpfEnvironment.Unavailable() is { } env)
            {
                io.Err.WriteLine($"kmeshc: error: {env}");
                return Cli.Usage;
            }

            using var logs = JsonLineFormatter.CreateFactory(parse.GetValue(Cli.Verbose) ? LogLevel.Debug : LogLevel.Information);
            var meters = new ServeMetrics();
            IWorldSource source;
            try
            {
                source = xdsOptions is not null
                    ? new XdsWorldSource(xdsOptions, meters, logs.CreateLogger("kmeshc.serve.xds"))
                    : new FileWorldSource(inputs, Cli.Settings(parse), meters, logs.CreateLogger("kmeshc.serve.source"));
            }
            catch (XdsConfigurationException e)
            {
                return Usage(e.Message);
            }
            var loop = new ServeLoop(source, new ServeOptions(parse.GetValue(node)!, parse.GetValue(pin)!), meters, logs.CreateLogger("kmeshc.serve"));
            using var stop = new CancellationTokenSource();
            void Stop(PosixSignalContext c)
            {
                c.Cancel = true;
                stop.Cancel();
            }
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            return ServeHost.RunAsync(loop, meters, listen, logs, stop.Token).GetAwaiter().GetResult();
        });
        return cmd;
    }
}
