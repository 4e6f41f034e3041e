using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KmeshCompiler.Tests.Kernel;

/// <summary>A TCP listener that answers every connection with a fixed greeting and counts them. Made
/// inside a namespace when given one (the socket lives where it was created).</summary>
public sealed class Listener : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private int _accepted;

    public IPEndPoint EndPoint { get; }
    public int Accepted => Volatile.Read(ref _accepted);

    public Listener(IPEndPoint at, string greeting, NetNs? ns = null)
    {
        _socket = ns is null ? Open(at) : ns.Run(() => Open(at));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        var bytes = Encoding.ASCII.GetBytes(greeting + "\n");
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket c;
                try { c = await _socket.AcceptAsync(_stop.Token); }
                catch (Exception) { return; }
                Interlocked.Increment(ref _accepted);
                try { c.Send(bytes); c.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
                c.Dispose();
            }
        });
    }

    private static Socket Open(IPEndPoint at)
    {
        var s = new Socket(at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(at);
        s.Listen(64);
        return s;
    }

    /// <summary>Connects from inside <paramref name="ns"/>; the greeting, or null when the connect did not
    /// complete within <paramref name="timeout"/>.</summary>
    public static string? Connect(NetNs ns, IPEndPoint to, TimeSpan timeout) => ns.Run(() =>
    {
        using var c = new Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            c.ConnectAsync(to, cts.Token).AsTask().GetAwaiter().GetResult();
            var buf = new byte[64];
            int n = c.Receive(buf);
            return Encoding.ASCII.GetString(buf, 0, n).Trim();
        }
        catch (OperationCanceledException) { return null; }
    });

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
    }
}
