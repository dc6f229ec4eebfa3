import type { ReactNode } from "react";

export const metadata = { title: "recodb feed", description: "A feed served by recodb" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", margin: "2rem auto", maxWidth: 760 }}>
        {children}
      </body>
    </html>
  );
}
