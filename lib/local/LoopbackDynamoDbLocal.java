import java.lang.reflect.Field;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local listening on 127.0.0.1 only. Its own main() binds
 * Jetty's `new Server(port)`, which listens on every interface, and offers no
 * host option; so this builds the server the way main() does, sets the host
 * of its one Jetty connector, then starts it. Telemetry is never configured
 * (main() is what would), and the arguments are DynamoDB Local's own.
 *
 * It accepts any signature, so a web page that reached it would own every
 * table: a request whose Host is not a loopback name (DNS rebinding), or that
 * carries an Origin (a page's fetch, a CORS preflight), gets 403, as at every
 * other local server of keygate (lib/local/loopback.ts).
 */
public class LoopbackDynamoDbLocal {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local has no connector to bind to 127.0.0.1");
    for (Connector connector : connectors) {
      // Refuse to start rather than listen on every interface.
      if (!(connector instanceof ServerConnector)) throw new IllegalStateException("cannot bind " + connector + " to 127.0.0.1");
      ((ServerConnector) connector).setHost("127.0.0.1");
    }
    Handler tables = server.getHandler();
    if (tables == null) throw new IllegalStateException("DynamoDB Local has no handler to guard");
    server.setHandler(new Handler.Wrapper(tables) {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        if (!isLoopbackHost(request.getHeaders().get(HttpHeader.HOST)) || request.getHeaders().get(HttpHeader.ORIGIN) != null) {
          Response.writeError(request, response, callback, 403, "DynamoDB Local answers this machine's tools only: a loopback Host and no Origin");
          return true;
        }
        return super.handle(request, response, callback);
      }
    });
    proxy.start();
  }

  /** 127.0.0.1, localhost or [::1], with or without a port. */
  static boolean isLoopbackHost(String host) {
    if (host == null) return false;
    String name = host.startsWith("[") ? host.substring(0, host.indexOf(']') + 1) : host.split(":", 2)[0];
    return name.equals("127.0.0.1") || name.equalsIgnoreCase("localhost") || name.equals("[::1]");
  }
}
