using System.Net;
using FakeXds;
using KmeshCompiler.Frontends.Xds;

// dotnet run --project tests/FakeXds -- --listen 127.0.0.1:PORT INPUT... [--script FILE]
// Serves the world of INPUT over Delta ADS (h2c), runs the script's steps, then serves until Ctrl+C.
const string usage = """
    usage: FakeXds --listen 127.0.0.1:PORT INPUT... [--script FILE]
    Serves the Address and Authorization resources of INPUT (anything kmeshc reads) over Delta ADS
    (plaintext HTTP/2), runs the script, then serves until Ctrl+C; prints every push, ACK and NACK.
    Script steps, one a line ('#' comments; paths relative to the script):
      apply INPUT...                          serve the world of these inputs instead
      put address|authorization NAME JSON     add or replace one resource (proto JSON)
      remove address|authorization NAME       remove one resource
      bad address|authorization NAME          serve a resource that fails validation
      drop                                    reset every open stream
      restart MS                              stop listening for MS milliseconds
      sleep MS                                wait
      wait                                    wait for a client, then until it holds everything
    Exit: 0 stopped, 1 bad INPUT or script, 2 usage or cannot listen. Details: docs/xds.md.
    """;
IPEndPoint? listen = null;
string? scriptFile = null;
var inputs = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--listen" when i + 1 < args.Length:
            if (!IPEndPoint.TryParse(args[++i], out listen) || !IPAddress.IsLoopback(listen.Address))
            {
                Console.Error.WriteLine($"--listen wants a loopback address and port (127.0.0.1:18000), not '{args[i]}'");
                return 2;
            }
            break;
        case "--script" when i + 1 < args.Length: scriptFile = args[++i]; break;
        case "-h" or "--help": Console.WriteLine(usage); return 0;
        default:
            if (args[i].StartsWith("--", StringComparison.Ordinal)) { Console.Error.WriteLine($"unknown option {args[i]}\n{usage}"); return 2; }
            inputs.Add(args[i]);
            break;
    }
}
if (listen is null || inputs.Count == 0) { Console.Error.WriteLine(usage); return 2; }

IReadOnlyList<ScriptStep> steps = [];
try
{
    if (scriptFile is not null) steps = ScriptStep.Parse(File.ReadAllText(scriptFile), scriptFile);
}
catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine(e.Message);
    return e is FormatException ? 1 : 2;
}

FakeXdsServer server;
try
{
    server = await FakeXdsServer.StartAsync(new FakeXdsOptions { Listen = listen, Log = Console.WriteLine });
}
catch (IOException e)
{
    Console.Error.WriteLine($"cannot listen on {listen}: {(e.InnerException ?? e).Message}");
    return 2;
}
await using var owned = server;
try
{
    server.ApplyInputs(inputs);
}
catch (InvalidDataException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
Console.WriteLine($"serving {server.Served(TypeUrls.Address).Count} Address and {server.Served(TypeUrls.Authorization).Count} Authorization resources on {server.Address.GetLeftPart(UriPartial.Authority)}");

using var stop = new CancellationTokenSource();
using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
string dir = scriptFile is null ? "." : Path.GetDirectoryName(Path.GetFullPath(scriptFile))!;
try
{
    foreach (var step in steps)
    {
        Console.WriteLine($"script line {step.Line}: {step}");
        try
        {
            await step.RunAsync(server, dir, stop.Token);
        }
        catch (Exception e) when (e is InvalidDataException or KeyNotFoundException or TimeoutException or Google.Protobuf.InvalidJsonException or Google.Protobuf.InvalidProtocolBufferException)
        {
            Console.Error.WriteLine($"{scriptFile}:{step.Line}: {e.Message}");
            return 1;
        }
    }
    if (steps.Count > 0) Console.WriteLine("script done; serving until Ctrl+C");
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}
return 0;

